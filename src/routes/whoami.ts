import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ROLES } from '../repositories/tokens'
import { errors } from '../schemas/common'
import { routePlugin } from './route-plugin'

/** The token's own name and role: what the console checks at sign-in, before it shows anything. */
const whoami: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/whoami',
    {
      schema: {
        summary: 'The name and role of the token sent',
        tags: ['operations'],
        response: {
          200: Type.Object({ name: Type.String(), role: Type.Union(ROLES.map((r) => Type.Literal(r))) }),
          ...errors(401, 403),
        },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      const identity = request.identity
      // requireRole set it or refused the request.
      if (!identity) throw new Error('no identity after the role check')
      return { name: identity.name, role: identity.role }
    }
  )
}

export default routePlugin('whoami', whoami)
