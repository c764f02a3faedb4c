import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Refusal } from '../../errors'
import { isDeviceRoute } from '../../http/route-options'

type PressureHandler = (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => Promise<void> | void

declare module 'fastify' {
  interface FastifyContextConfig {
    /** read by @fastify/under-pressure in place of its global handler */
    pressureHandler?: PressureHandler
  }
}

const SAMPLE_INTERVAL_MS = 1000

/** What tripped, as a person reads it: "event-loop delay 250 ms". */
function reading(type: string, value: number | undefined): string {
  const v = value ?? 0
  if (type === 'eventLoopDelay') return `event-loop delay ${Math.round(v)} ms`
  if (type === 'eventLoopUtilization') return `event-loop utilisation ${v.toFixed(2)}`
  if (type === 'heapUsedBytes') return `heap in use ${Math.round(v / 1048576)} MiB`
  return type
}

/**
 * When the process falls behind (event-loop delay or utilisation, heap over the OTA_OVERLOAD_*
 * thresholds, sampled each second from two seconds after start), device endpoints answer 503
 * `overloaded` with Retry-After at once: a device polls again later anyway, and answering it
 * slowly would slow everyone. Operator endpoints and /healthz keep being served, so people can
 * still see and act.
 */
export default fp(
  async function loadSheddingPlugin(app) {
    const c = app.config
    const retryAfter = c.OTA_OVERLOAD_RETRY_AFTER
    // The first samples measure the server's own start (loading modules, compiling schemas), not
    // load: they are not acted on. Set when the app is ready.
    let measuredFrom = Infinity
    app.addHook('onReady', async () => {
      measuredFrom = Date.now() + 2 * SAMPLE_INTERVAL_MS
    })
    const shed: PressureHandler = async (_request, _reply, type, value) => {
      if (Date.now() < measuredFrom) return
      // No delay sample at all in the last interval (the loop was busy from before it began) reads
      // as Infinity: not a measurement. A real stall shows in the next sample.
      if (type === 'eventLoopDelay' && value === Infinity) return
      throw new Refusal('overloaded', `the server is overloaded (${reading(type, value)}); try again in ${retryAfter} s`, {
        headers: { 'retry-after': String(retryAfter) },
      })
    }
    await app.register(underPressure, {
      maxEventLoopDelay: c.OTA_OVERLOAD_EVENT_LOOP_DELAY_MS,
      maxEventLoopUtilization: c.OTA_OVERLOAD_EVENT_LOOP_UTILIZATION,
      eventLoopUtilizationMode: 'interval',
      sampleInterval: SAMPLE_INTERVAL_MS,
      maxHeapUsedBytes: c.OTA_OVERLOAD_HEAP_BYTES,
      retryAfter,
      // Every other route goes on as usual: returning nothing lets the request through.
      pressureHandler: () => undefined,
    })
    app.addHook('onRoute', (route) => {
      if (isDeviceRoute(route)) route.config = { ...route.config, pressureHandler: shed }
    })
  },
  { name: 'load-shedding', dependencies: ['config', 'error-handler'] }
)
