import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

/**
 * Prometheus scrape endpoint, without credentials like /healthz: the nginx configuration in
 * deploy/ refuses it from outside, so only the host (and what it forwards) can read it.
 */
const metrics: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (requests, check-ins, downloads, releases, devices per version)',
        description: 'Prometheus text exposition format. Not exposed through the nginx configuration in deploy/.',
        tags: ['operations'],
        response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => {
      const registry = app.metrics.registry
      const text = await registry.metrics()
      return reply.type(registry.contentType).send(text)
    }
  )
}

export default metrics
