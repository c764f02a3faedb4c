// Device routes say so in their own options (`config: { device: true }`); rate limiting, load
// shedding, download metrics and the API docs read that flag. The routes checked here are those the
// running app registers, so a device route added without the flag fails this test.
import t, { type Test } from 'tap'
import type { RouteOptions } from 'fastify'
import { loadConfig } from '../src/config'
import { createServer } from '../src/server'
import { tempDir } from './support/server'

/** The contract's device endpoints: what devices (and installers) call without a role token. */
const DEVICE_PATHS = [
  /^\/v1\/manifest$/,
  /^\/v1\/keys$/,
  /^\/firmware\.(json|app\.bin|bin)$/,
  /^\/v1\/web-install\//,
  /^\/v1\/factory\//,
  /^\/v1\/arduino\//,
  /^\/v1\/firmware\//,
  /^\/v1\/delta\/:base\//,
  /^\/v1\/devices\/:device\/(reports|enroll|challenge|token)$/,
]

/** Each route the app registers, as the app's onRoute hooks see it (Fastify's HEAD copies included). */
async function registeredRoutes(t: Test): Promise<RouteOptions[]> {
  const app = createServer(loadConfig({ OTA_DATA_DIR: tempDir(t), OTA_LOG_LEVEL: 'silent' }))
  t.teardown(() => app.close())
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => void routes.push(route))
  await app.ready()
  return routes
}

const methodsOf = (route: RouteOptions) => (Array.isArray(route.method) ? route.method : [route.method])
const label = (route: RouteOptions) => `${methodsOf(route).join(',')} ${route.url}`
// A CORS preflight (OPTIONS) is a browser's question about a device route, not a device request.
const isPreflight = (route: RouteOptions) => methodsOf(route).every((m) => m === 'OPTIONS')
const underDevicePaths = (route: RouteOptions) => DEVICE_PATHS.some((p) => p.test(route.url ?? ''))

t.test('every route under the device paths is flagged as a device route, and no other is', async (t) => {
  const routes = await registeredRoutes(t)
  const device = routes.filter((r) => underDevicePaths(r) && !isPreflight(r))
  // Each contract path is served: a pattern that matches nothing would check nothing.
  for (const pattern of DEVICE_PATHS) t.ok(device.some((r) => pattern.test(r.url ?? '')), `a route matches ${pattern}`)
  for (const route of device) t.equal(route.config?.device, true, `${label(route)} has config.device`)
  for (const route of routes.filter((r) => !underDevicePaths(r) || isPreflight(r))) {
    t.not(route.config?.device, true, `${label(route)} is not a device route`)
  }
})

// A route whose 200 answer is bytes (application/octet-stream) sends binaries.
const sendsBytes = (route: RouteOptions) =>
  /application\/octet-stream/.test(JSON.stringify((route.schema?.response as Record<string, unknown> | undefined)?.['200'] ?? ''))

t.test('device routes that send binaries are download routes (counted by the metrics), and only they', async (t) => {
  const routes = await registeredRoutes(t)
  const downloads = routes.filter(sendsBytes)
  t.ok(downloads.length >= 6, 'the binaries, factory images, patches and the Arduino update are found')
  for (const route of downloads) t.same({ device: route.config?.device, download: route.config?.download }, { device: true, download: true }, `${label(route)} is a device download route`)
  for (const route of routes.filter((r) => !sendsBytes(r))) t.not(route.config?.download, true, `${label(route)} is not a download route`)
})
