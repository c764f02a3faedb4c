import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errors } from '../schemas/common'
import { routePlugin } from './route-plugin'

/**
 * Prometheus scrape endpoint. It names the versions the fleet runs and how busy the server is, so
 * it needs an operator token (Prometheus sends it as `authorization: credentials`), unless
 * OTA_METRICS_PUBLIC=true for a scraper that cannot send one (then keep it off the public side, as
 * the nginx configuration in deploy/ does).
 */
const metrics: FastifyPluginAsyncTypebox = async (app) => {
  const open = app.config.OTA_METRICS_PUBLIC
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (requests, check-ins, downloads, releases, devices per version)',
        description: 'Prometheus text exposition format. Needs an operator token unless OTA_METRICS_PUBLIC=true.',
        tags: ['operations'],
        response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } }, ...errors(401, 403) },
      },
      ...(open ? {} : { onRequest: app.requireRole('operator') }),
    },
    async (_request, reply) => {
      const registry = app.metrics.registry
      const text = await registry.metrics()
      return reply.type(registry.contentType).send(text)
    }
  )
}

export default routePlugin('metrics', metrics)
