import fp from 'fastify-plugin'
import { badRequest } from '../../errors'

/**
 * HTTP/1.1 requires a Host header. Node's own refusal is a bare 400 without a body, so the server
 * lets such requests through (server.ts) and they are refused here, in the contract's JSON form.
 */
export default fp(
  async function hostRequiredPlugin(app) {
    // A callback hook, not an async one: every request passes here, and a promise each costs more.
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
        return done(badRequest('send a Host header: HTTP/1.1 requires one'))
      }
      done()
    })
  },
  { name: 'host-required', dependencies: ['error-handler'] }
)
