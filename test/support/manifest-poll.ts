import type { Target } from './http'

// The one manifest poll of the tests: GET /v1/manifest as a device asks (through inject for an app
// that does not listen, over a real socket for a server with a URL).

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
  headers: Record<string, string | string[] | number | undefined>
}

/**
 * GET /v1/manifest with `query` (board esp32cam unless given; undefined values are left out),
 * the device's token when given, and extra request headers.
 */
export async function pollManifest(
  server: Target,
  query: Record<string, string | number | undefined>,
  options: { token?: string; headers?: Record<string, string> } = {}
): Promise<ManifestAnswer> {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries({ ...query, board: query.board ?? 'esp32cam' })) if (v !== undefined) qs.set(k, String(v))
  const headers = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers }
  const url = `/v1/manifest?${qs}`
  const [status, body, answered] =
    server.url === undefined
      ? await server.app.inject({ method: 'GET', url, headers }).then((r) => [r.statusCode, r.rawPayload, r.headers] as const)
      : await fetch(`${server.url}${url}`, { headers }).then(async (r) => [r.status, Buffer.from(await r.arrayBuffer()), Object.fromEntries(r.headers)] as const)
  return { status, body, manifest: status === 200 ? JSON.parse(body.toString('utf8')) : {}, headers: answered }
}
