/**
 * How long a request waits for a connection from the pool (a new one included) before it fails:
 * with the database unreachable a device hears 503 within 2 s, never a hang.
 */
export const PG_CONNECT_TIMEOUT_MS = 1000
/** How long one statement may run: the server cancels it, and the client stops waiting a little later. */
export const PG_STATEMENT_TIMEOUT_MS = 1500
/** Seconds a device is told to wait (Retry-After) while the database is unreachable. */
export const DATABASE_RETRY_AFTER_S = 10

/** The server's pool: requests fail fast while the database is out of reach, never hang. */
export const SERVER_POOL_TIMEOUTS = { connectTimeoutMs: PG_CONNECT_TIMEOUT_MS, statementTimeoutMs: PG_STATEMENT_TIMEOUT_MS }

// Only what connecting to the database fails with: a reset or broken pipe may be a device's connection.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
// SQLSTATE: 57P01-57P03 the server is shutting down or starting, 57014 a statement cancelled by
// the timeout, 53300 no connection slot free.
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57014', '53300'])
const UNAVAILABLE_MESSAGES = [/timeout exceeded when trying to connect/i, /Connection terminated/i, /Query read timeout/i, /Client has encountered a connection error/i]

/**
 * Whether `err` says PostgreSQL is out of reach (down, restarting, too slow, out of connections)
 * rather than that a statement was wrong: the request can succeed later, so it is a 503.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true
  return UNAVAILABLE_MESSAGES.some((m) => m.test(err.message))
}
