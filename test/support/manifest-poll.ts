import type { RunningServer } from './server'

// The one manifest poll of the tests: GET /v1/manifest over a real socket, as a device asks.

export interface Manifest {
  version: string
  sequence: number
  sha256: string
  size: number
  allow_downgrade?: boolean
  delta?: { format: string; base_sha256: string; url: string; size: number; sha256: string }
  [field: string]: unknown
}

export interface ManifestAnswer {
  status: number
  body: Buffer
  /** the parsed body of a 200; empty otherwise */
  manifest: Manifest | Record<string, never>
  headers: Headers
}

/**
 * GET /v1/manifest with `query` (board esp32cam unless given; undefined values are left out),
 * the device's token when given, and extra request headers.
 */
export async function pollManifest(
  server: Pick<RunningServer, 'url'>,
  query: Record<string, string | number | undefined>,
  options: { token?: string; headers?: Record<string, string> } = {}
): Promise<ManifestAnswer> {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries({ ...query, board: query.board ?? 'esp32cam' })) if (v !== undefined) qs.set(k, String(v))
  const headers = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers }
  const res = await fetch(`${server.url}/v1/manifest?${qs}`, { headers })
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, body, manifest: res.status === 200 ? JSON.parse(body.toString('utf8')) : {}, headers: res.headers }
}
