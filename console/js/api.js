// The operator API, as the CLI calls it: Authorization: Bearer <token>, JSON in and out. The token
// lives in sessionStorage only (this tab, until it closes or the operator signs out): never in a
// URL, never in a cookie, so no other site's request can carry it.

const KEY = 'ota-gate.console.token'

export function storedToken() {
  return sessionStorage.getItem(KEY)
}

export function keepToken(token) {
  sessionStorage.setItem(KEY, token)
}

export function forgetToken() {
  sessionStorage.removeItem(KEY)
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

let onUnauthorized = () => {}
/** Called when a stored token is refused (revoked): the console signs out. */
export function whenUnauthorized(fn) {
  onUnauthorized = fn
}

/** One API call. `query` values that are empty are left out. */
export async function api(method, path, { query, body, token } = {}) {
  const sent = token ?? storedToken()
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  const qs = params.toString()
  const headers = { accept: 'application/json' }
  if (sent) headers.authorization = `Bearer ${sent}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(qs ? `${path}?${qs}` : path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    })
  } catch {
    throw new ApiError(0, 'unreachable', 'The server did not answer: is it running? The console tries again on its next refresh.')
  }
  const text = await res.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = null
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json?.error ?? 'http_error', json?.message ?? `${res.status} ${res.statusText}`)
    if (res.status === 401 && token === undefined) onUnauthorized(err)
    throw err
  }
  return json
}

export const get = (path, query) => api('GET', path, { query })
