import type { Target } from './http'
import { pollManifest } from './manifest-poll'
import type { RunningServer } from './server'

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
export async function poll(server: Target, d: SimDevice): Promise<number> {
  const { board, device, channel, version, sequence } = d
  return (await pollManifest(server, { board, device, channel, version, sequence }, { headers: { 'user-agent': 'sim-device/1.0' } })).status
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

