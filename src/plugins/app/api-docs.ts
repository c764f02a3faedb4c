import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifySchema } from 'fastify'
import { isDeviceRoute } from '../../http/route-options'
import { ErrorResponse } from '../../schemas/common'

const { version } = require('../../../package.json') as { version: string }

type Responses = Record<string, unknown>

/**
 * The OpenAPI document, built from the routes' own schemas: registered before the routes, it sees
 * each one as it is added. What the schemas do not say is added here: a route that can answer 401
 * takes a bearer token; device routes may answer 429 (rate limit) and 503 (load shedding).
 */
function documented(schema: FastifySchema, route: { device: boolean; deviceCredentials: boolean }): FastifySchema {
  const responses = (schema.response ?? {}) as Responses
  const extra: FastifySchema & { security?: unknown } = {}
  // A device token is optional unless the server runs with OTA_DEVICE_AUTH=required: `{}` says "or none".
  // Other device routes answering 401 (enrollment) refuse what is in the body, not a missing token.
  if ('401' in responses) {
    extra.security = route.deviceCredentials ? [{}, { device_token: [] }] : route.device ? [{}] : [{ bearer: [] }]
  }
  if (route.device) extra.response = { ...responses, 429: ErrorResponse, 503: ErrorResponse }
  if (schema.querystring) extra.querystring = optionalWithDefault(schema.querystring)
  return { ...schema, ...extra }
}

/**
 * A parameter with a default (the channel) is required by the schema only so that validation fills
 * it in and the handler sees it; a client may leave it out.
 */
function optionalWithDefault(query: unknown): unknown {
  const q = query as { properties?: Record<string, { default?: unknown }>; required?: string[] }
  if (!q.properties || !q.required) return query
  const properties = q.properties
  return { ...q, required: q.required.filter((name) => properties[name]?.default === undefined) }
}

export default fp(
  async function apiDocsPlugin(app) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'ota-gate',
          version,
          description:
            'Over-the-air updates for ESP32 fleets. Device endpoints take a device token (`Authorization: Bearer ' +
            '<device token>`, see docs/devices.md), required only with OTA_DEVICE_AUTH=required; release and operator ' +
            'endpoints take `Authorization: Bearer <token>` (create one with `ota-gate token create`). Errors are ' +
            '`{"error": code, "message"}`.',
        },
        tags: [
          { name: 'devices', description: 'polled by devices: a device token, or none unless OTA_DEVICE_AUTH=required' },
          { name: 'device credentials', description: 'admitting devices: keys, allow-list, enrollment tokens (role operator)' },
          { name: 'releases', description: 'publishing releases (role releaser)' },
          { name: 'fleet', description: 'what the fleet runs (role operator)' },
          { name: 'operations', description: 'health, metrics, keys' },
        ],
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            device_token: { type: 'http', scheme: 'bearer', description: 'a device token from POST /v1/devices/:device/token' },
          },
        },
      },
      // Routes without a schema (the UI's own pages) have nothing to add to.
      transform: ({ schema, url, route }) => ({
        schema: schema ? documented(schema, { device: isDeviceRoute(route), deviceCredentials: route.config?.deviceCredentials === true }) : schema,
        url,
      }),
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
  },
  { name: 'api-docs' }
)
