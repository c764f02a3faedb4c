import { createToken, type RunningServer } from './server'

/** What /v1/manifest offers a device, as the parts rollout tests look at. */
export interface Offer {
  status: number
  version: string | null
  sequence: number | null
  allowDowngrade: boolean | null
}

/** One manifest poll naming the device and what it runs; resolves to the offered release. */
export async function offerFor(
  server: RunningServer,
  device: string,
  runs: { version: string; sequence: number },
  opts: { board?: string; channel?: string } = {}
): Promise<Offer> {
  const q = new URLSearchParams({ board: opts.board ?? 'esp32cam', device, version: runs.version, sequence: String(runs.sequence) })
  if (opts.channel !== undefined) q.set('channel', opts.channel)
  const res = await fetch(`${server.url}/v1/manifest?${q}`)
  const body = (await res.json()) as { version?: string; sequence?: number; allow_downgrade?: boolean }
  return { status: res.status, version: body.version ?? null, sequence: body.sequence ?? null, allowDowngrade: body.allow_downgrade ?? null }
}

/** An operator's (or any role's) call with a JSON body; resolves to status and JSON answer. */
export async function call<T = Record<string, unknown>>(
  server: RunningServer,
  method: string,
  path: string,
  token: string,
  body?: unknown
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as T }
}

/** An operator token of the server, named `name` (the audit log records it). */
export function operatorToken(server: RunningServer, name = 'ops-alice'): Promise<string> {
  return createToken(server.dataDir, 'operator', name)
}
