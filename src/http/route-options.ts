import type { RouteOptions } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A route devices call (without an ota-gate role token; some take a device token). Rate
     * limiting per address, load shedding and the API docs treat these apart from the operator API.
     */
    device?: boolean
    /** A device route that sends release binaries: counted by the download metrics. */
    download?: boolean
  }
}

/** Whether an onRoute hook is looking at a device route (Fastify's HEAD copy of a GET route carries its config). */
export function isDeviceRoute(route: Pick<RouteOptions, 'config'>): boolean {
  return route.config?.device === true
}

type HookName = 'onRequest' | 'onSend'

/** Adds a hook to one route from an onRoute hook, keeping the route's own hooks (in a new array: the HEAD copy shares the old one). */
export function addRouteHook<H extends HookName>(route: RouteOptions, name: H, hook: NonNullable<RouteOptions[H]>): void {
  const existing = route[name]
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  route[name] = [...list, ...(Array.isArray(hook) ? hook : [hook])] as RouteOptions[H]
}
