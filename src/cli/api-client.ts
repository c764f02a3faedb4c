import type { ParseArgsConfig } from 'node:util'
import { CliRefusal, UsageError, type CliIo } from './io'

/** The options every server-talking command takes; spread into a Command's `options`. */
export const serverOptions = {
  server: { type: 'string' },
  token: { type: 'string' },
} as const satisfies ParseArgsConfig['options']

/** The server said no: its `error` code and status are kept for commands that branch on them. */
export class ApiRefusal extends CliRefusal {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

export type Query = Record<string, string | number | boolean | undefined>

export interface RequestOptions {
  query?: Query
  /** sent as JSON */
  json?: unknown
  /** sent as is, with `contentType` (default application/octet-stream) */
  bytes?: Uint8Array
  contentType?: string
  /** milliseconds before giving up (default 120 s: uploads of release binaries take a while) */
  timeoutMs?: number
}

export interface ApiClient {
  /** the server's base URL, without a trailing slash */
  readonly server: string
  /** the bearer token sent with every request */
  readonly token: string
  /** the absolute URL of a path on the server */
  url(path: string): URL
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>
  get<T>(path: string, query?: Query): Promise<T>
  /** like get, but a 404 answer is undefined rather than a refusal */
  getOptional<T>(path: string, query?: Query): Promise<T | undefined>
  post<T>(path: string, json: unknown): Promise<T>
  put<T>(path: string, bytes: Uint8Array, contentType?: string): Promise<T>
}

/**
 * A client for the command's server: --server/--token, else OTA_SERVER/OTA_TOKEN (both required). A JSON refusal
 * becomes an ApiRefusal carrying the server's own message; a server that cannot be reached becomes
 * a refusal that says which address was tried.
 */
export function apiClient(values: Record<string, unknown>, io: CliIo): ApiClient {
  const rawServer = (values.server as string | undefined) ?? io.env.OTA_SERVER
  if (!rawServer) throw new UsageError('name the server with --server URL or OTA_SERVER (e.g. http://127.0.0.1:8080)')
  let base: URL
  try {
    base = new URL(rawServer)
  } catch {
    throw new UsageError(`--server must be an http:// or https:// URL, not "${rawServer}"`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new UsageError(`--server must be an http:// or https:// URL, not "${rawServer}"`)
  }
  const server = base.href.replace(/\/+$/, '')
  const token = (values.token as string | undefined) ?? io.env.OTA_TOKEN
  if (!token) throw new UsageError('give a token with --token TOKEN or OTA_TOKEN (create one with `ota-gate token create`)')

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(server + path)
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v))
    }
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}` }
    let body: string | Uint8Array | undefined
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.json)
    } else if (options.bytes !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/octet-stream'
      body = options.bytes
    }
    let res: Response
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 120_000) })
    } catch (err) {
      throw new CliRefusal(`cannot reach the server at ${server}: ${networkReason(err)}`)
    }
    const text = await res.text()
    if (!res.ok) throw refusal(res, text)
    if (text === '') return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new CliRefusal(`the server at ${server} answered ${method} ${path} with something that is not JSON`)
    }
  }

  return {
    server,
    token,
    url: (path) => new URL(server + path),
    request,
    get: (path, query) => request('GET', path, { query }),
    getOptional: async (path, query) => {
      try {
        return await request('GET', path, { query })
      } catch (err) {
        if (err instanceof ApiRefusal && err.status === 404) return undefined
        throw err
      }
    },
    post: (path, json) => request('POST', path, { json }),
    put: (path, bytes, contentType) => request('PUT', path, { bytes, contentType }),
  }
}

function refusal(res: Response, text: string): CliRefusal {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown }
    if (typeof body.error === 'string' && typeof body.message === 'string') {
      return new ApiRefusal(res.status, body.error, `${body.message} (${res.status} ${body.error})`)
    }
  } catch {
    // not JSON: a proxy's page, for instance; the status says enough
  }
  return new ApiRefusal(res.status, 'http_error', `the server answered ${res.status} ${res.statusText}`.trimEnd())
}

function networkReason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError') return 'no answer in time'
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)
}
