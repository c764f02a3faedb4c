import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { Refusal } from '../../errors'
import { addRouteHook, isDeviceRoute } from '../../http/route-options'

/**
 * OTA_DEVICE_RATE_LIMIT requests a minute per address over all device endpoints together (one
 * counter per address, IPv6 by /64), so one runaway client cannot crowd out the fleet. Operator and
 * release endpoints are not limited here: they need a token. `request.ip` is the client behind a
 * trusted proxy only (OTA_TRUST_PROXY, see server.ts).
 */
export default fp(
  async function deviceRateLimitPlugin(app) {
    const max = app.config.OTA_DEVICE_RATE_LIMIT
    if (max === 0) return
    await app.register(rateLimit, {
      global: false,
      max,
      timeWindow: 60_000,
      // Addresses tracked at once (least recently seen dropped first): a fleet without NAT has
      // many more than the plugin's default 5,000 active within a minute.
      cache: 100_000,
      // The budget headers are sent only on refusals: polls stay as small and cheap as they were.
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      errorResponseBuilder: (request, context) =>
        new Refusal('rate_limited',
          `more than ${context.max} requests a minute from ${request.ip} to the device endpoints; retry in ${context.after}`
        ),
    })
    const limit = app.rateLimit()
    app.addHook('onRoute', (route) => {
      if (isDeviceRoute(route)) addRouteHook(route, 'onRequest', limit)
    })
  },
  { name: 'device-rate-limit', dependencies: ['config', 'error-handler'] }
)
