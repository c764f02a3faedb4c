import type { RunningServer } from './server'

/**
 * Settings for a server that a simulated fleet polls from the same process: the fleet comes from
 * one loopback address (no per-address limit), and the test's own work on the shared event loop
 * must not be mistaken for overload.
 */
export const FLEET_ENV: Record<string, string> = {
  OTA_DEVICE_RATE_LIMIT: '0',
  OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0',
  OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
}

/**
 * FLEET_ENV with device credentials off: every device is taken at its word, as before credentials
 * existed. For tests of what the fleet's reports do (auto-halt, adoption) with simulated devices
 * that do not enroll; test/device-trust.test.ts covers the same with enrolled devices.
 */
export const UNPROVEN_FLEET_ENV: Record<string, string> = { ...FLEET_ENV, OTA_DEVICE_AUTH: 'off' }

/** A simulated device of a test fleet: polls the manifest and reports, as firmware would. */
export interface SimDevice {
  device: string
  board?: string
  channel?: string
  version: string
  sequence: number
}

/** The n-th test device id: 12 lowercase hex, distinct for distinct (prefix, n). */
export function deviceId(n: number, prefix = 0xa0): string {
  return prefix.toString(16).padStart(2, '0') + n.toString(16).padStart(10, '0')
}

/** One manifest poll naming the device; resolves to the HTTP status once the answer is read. */
export async function poll(server: Pick<RunningServer, 'url'>, d: SimDevice): Promise<number> {
  const q = new URLSearchParams({ board: d.board ?? 'esp32cam', device: d.device, version: d.version, sequence: String(d.sequence) })
  if (d.channel !== undefined) q.set('channel', d.channel)
  const res = await fetch(`${server.url}/v1/manifest?${q}`, { headers: { 'user-agent': 'sim-device/1.0' } })
  await res.arrayBuffer()
  return res.status
}

/** POST /v1/devices/:device/reports; resolves to status and JSON body. */
export async function report(
  server: Pick<RunningServer, 'url'>,
  device: string,
  body: Record<string, unknown>
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/v1/devices/${device}/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function inParallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

/** GET with a bearer token; resolves to status and JSON body. */
export async function getJson<T = Record<string, unknown>>(server: Pick<RunningServer, 'url'>, path: string, token: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: (await res.json()) as T }
}
