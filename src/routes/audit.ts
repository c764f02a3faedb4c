import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AUDIT_ACTIONS } from '../repositories/audit'
import { BoardName, ChannelName, DeviceId, errors, normalizeDevice } from '../schemas/common'
import { AuditView, auditView } from '../schemas/rollout'
import { routePlugin } from './route-plugin'

/** The audit log of rollout changes, newest first, in keyset pages. */
const audit: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/audit',
    {
      schema: {
        summary: 'Who changed rollouts, pins and rollbacks, when and why (newest first)',
        tags: ['rollouts'],
        querystring: Type.Object({
          board: Type.Optional(BoardName),
          channel: Type.Optional(ChannelName),
          action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)), { description: 'only entries of this action' })),
          actor: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'only entries by this token name (or "system")' })),
          device: Type.Optional({ ...DeviceId, description: 'only entries about this device (a pin of several devices included)' }),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'next_cursor of the previous page' })),
        }),
        response: {
          200: Type.Object({ entries: Type.Array(AuditView), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errors(400, 401, 403),
        },
      },
      onRequest: app.requireRole('operator'),
    },
    async (request) => {
      const { board, channel, action, actor, device, cursor } = request.query
      const limit = request.query.limit ?? 50
      const filter = { board, channel, action, actor, device: device === undefined ? undefined : normalizeDevice(device) }
      // One more than asked tells whether another page follows.
      const rows = await app.repos.audit.list(filter, cursor === undefined ? null : Number(cursor), limit + 1)
      const page = rows.slice(0, limit)
      return { entries: page.map(auditView), next_cursor: rows.length > limit ? String(page[page.length - 1].id) : null }
    }
  )
}

export default routePlugin('audit', audit)
