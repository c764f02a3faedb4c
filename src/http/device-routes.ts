import type { RouteOptions } from 'fastify'

/** A route devices call (without an ota-gate role token; some take a device token). `download` marks the routes that send release binaries. */
export interface DeviceRoute {
  method: 'GET' | 'POST'
  url: string
  download: boolean
}

/**
 * The device-facing routes, named once here for what treats them apart from the operator API:
 * rate limiting per address, load shedding, download metrics. A route renamed in its own file must
 * be renamed here too (test/overload.test.ts checks that each of these exists).
 */
export const DEVICE_ROUTES: readonly DeviceRoute[] = [
  { method: 'GET', url: '/v1/manifest', download: false },
  { method: 'GET', url: '/v1/keys', download: false },
  { method: 'GET', url: '/firmware.json', download: false },
  { method: 'GET', url: '/firmware.app.bin', download: true },
  { method: 'GET', url: '/firmware.bin', download: true },
  { method: 'GET', url: '/v1/web-install/:board/manifest.json', download: false },
  { method: 'GET', url: '/v1/factory/:file', download: true },
  { method: 'GET', url: '/v1/arduino/:board', download: true },
  { method: 'GET', url: '/v1/firmware/:file', download: true },
  { method: 'GET', url: '/v1/delta/:base/:file', download: true },
  { method: 'POST', url: '/v1/devices/:device/reports', download: false },
  { method: 'POST', url: '/v1/devices/:device/enroll', download: false },
  { method: 'GET', url: '/v1/devices/:device/challenge', download: false },
  { method: 'POST', url: '/v1/devices/:device/token', download: false },
]

/**
 * The device route an onRoute hook is looking at, if it is one. The HEAD route Fastify adds for
 * each GET route is the same device route.
 */
export function deviceRouteOf(route: Pick<RouteOptions, 'method' | 'url'>): DeviceRoute | undefined {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  return DEVICE_ROUTES.find(
    (d) => d.url === route.url && (methods.includes(d.method) || (d.method === 'GET' && methods.includes('HEAD')))
  )
}

type HookName = 'onRequest' | 'onSend'

/** Adds a hook to one route from an onRoute hook, keeping the route's own hooks (in a new array: the HEAD copy shares the old one). */
export function addRouteHook<H extends HookName>(route: RouteOptions, name: H, hook: NonNullable<RouteOptions[H]>): void {
  const existing = route[name]
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  route[name] = [...list, ...(Array.isArray(hook) ? hook : [hook])] as RouteOptions[H]
}
