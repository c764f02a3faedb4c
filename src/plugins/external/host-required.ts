import fp from 'fastify-plugin'
import { badRequest } from '../../errors'

/**
 * HTTP/1.1 requires a Host header. Node's own refusal is a bare 400 without a body, so the server
 * lets such requests through (server.ts) and they are refused here, in the contract's JSON form.
 */
export default fp(
  async function hostRequiredPlugin(app) {
    app.addHook('onRequest', async (request) => {
      if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
        throw badRequest('send a Host header: HTTP/1.1 requires one')
      }
    })
  },
  { name: 'host-required', dependencies: ['error-handler'] }
)
