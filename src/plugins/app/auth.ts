import fp from 'fastify-plugin'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { forbidden, unauthorized } from '../../errors'
import type { Identity, Role } from '../../repositories/tokens'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * An onRequest hook admitting a bearer token of one of `roles`; `admin` is always admitted. It
     * runs before the body is read or validated: a caller without the right token learns only that.
     */
    requireRole(...roles: Role[]): onRequestAsyncHookHandler
  }
  interface FastifyRequest {
    identity: Identity | null
  }
}

/** The token of an `Authorization: Bearer` header, if the request has one. */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m ? m[1] : undefined
}

export default fp(
  async function authPlugin(app) {
    app.decorateRequest('identity', null)
    app.decorate('requireRole', function requireRole(...roles: Role[]): onRequestAsyncHookHandler {
      const allowed = new Set<Role>([...roles, 'admin'])
      return async function checkRole(request) {
        const token = bearer(request)
        if (!token) throw unauthorized('send Authorization: Bearer <token> (create one with `ota-gate token create`)')
        const identity = await app.repos.tokens.authenticate(token)
        if (!identity) throw unauthorized('the token is unknown or revoked')
        if (!allowed.has(identity.role)) {
          const needed = roles[0] ?? 'admin'
          throw forbidden(
            `this needs role ${[...allowed].join(' or ')}; the token "${identity.name}" has role ${identity.role}: ` +
              `create one with \`ota-gate token create --role ${needed} --name NAME\` (on the server's data folder) and use it`
          )
        }
        request.identity = identity
        try {
          await app.repos.tokens.markUsed(token)
        } catch (err) {
          // A full disk must not lock operators out: last_used_at waits for the next request.
          request.log.warn({ err }, 'could not record when the token was last used')
        }
      }
    })
  },
  { name: 'auth', dependencies: ['repositories'] }
)
