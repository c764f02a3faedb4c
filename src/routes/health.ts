import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errors } from '../schemas/common'

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness and database check',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errors(503) },
      },
    },
    async (_request, reply) => {
      try {
        app.db.prepare('SELECT 1').get()
      } catch (err) {
        app.log.error({ err }, 'health check: database does not answer')
        return reply.code(503).send({ error: 'overloaded', message: 'the database does not answer' })
      }
      return { status: 'ok' as const }
    }
  )
}

export default health
