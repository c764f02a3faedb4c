import path from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseDuration } from './duration'
import { BRANCH_NAME_PATTERN, BoardName, ChannelName, DEFAULT_CHANNEL } from './schemas/common'
import { LAST_SEEN_FLUSH_MS } from './repositories/devices'

// Environment variables are the only configuration. Keys are the variable names so that an
// error, the .env.example file and the code all speak of the same thing.
export const DEVICE_AUTH_MODES = ['off', 'optional', 'required'] as const
export type DeviceAuthMode = (typeof DEVICE_AUTH_MODES)[number]

/** postgres:// or postgresql://, no spaces (databaseUrlProblem checks the rest). */
const DATABASE_URL_PATTERN = '^postgres(ql)?://[^\\s]+$'

/** Where releases are cut: builds of tags matching DEFAULT_TAG_PATTERN on this branch are published. */
export const DEFAULT_RELEASE_BRANCH = 'production'
export const DEFAULT_TAG_PATTERN = 'prod-*'

export const ConfigSchema = Type.Object({
  OTA_DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  OTA_HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  OTA_PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
  OTA_PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  /** Base URL (origin and optional path prefix) of the immutable /v1/firmware/<sha256>.bin URLs in manifests: a CDN or caching proxy. */
  OTA_DOWNLOAD_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s?#]+$' })),
  OTA_SERVER_KEY: Type.Optional(Type.String({ minLength: 1 })),
  OTA_GIT_DIR: Type.Optional(Type.String({ minLength: 1 })),
  OTA_RELEASE_BRANCH: Type.String({ default: DEFAULT_RELEASE_BRANCH, pattern: BRANCH_NAME_PATTERN }),
  OTA_TAG_PATTERN: Type.String({ default: DEFAULT_TAG_PATTERN, minLength: 1, maxLength: 100 }),
  OTA_LEGACY_BOARD: Type.String({ pattern: BoardName.pattern, default: 'esp32cam' }),
  OTA_LEGACY_CHANNEL: Type.String({ pattern: ChannelName.pattern, default: DEFAULT_CHANNEL }),
  OTA_TRUST_PROXY: Type.Optional(Type.String()),
  OTA_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' }
  ),
  /** json (one JSON object a line, for journald and log shippers) or pretty (text for a person at a terminal). */
  OTA_LOG_FORMAT: Type.Union([Type.Literal('json'), Type.Literal('pretty')], { default: 'json' }),
  /** Largest artifact accepted by PUT /v1/artifacts, in bytes. */
  OTA_MAX_ARTIFACT_BYTES: Type.Integer({ default: 16 * 1024 * 1024, minimum: 1024 }),
  /** Seconds a signed manifest stays valid (expires_at - issued_at). */
  OTA_MANIFEST_TTL: Type.Integer({ default: 7 * 24 * 3600, minimum: 1 }),
  /** Bytes of release binaries kept in memory for fast serving. */
  OTA_CACHE_BYTES: Type.Integer({ default: 64 * 1024 * 1024, minimum: 0 }),
  /** A device not seen for this long is stale (the field fleet polls at least daily). */
  OTA_STALE_AFTER: Type.String({ default: '26h', pattern: '^[0-9]{1,6}(s|m|h|d)$' }),
  /**
   * Milliseconds a poll that only proves a device alive may wait in memory before its last_seen is
   * written (at most 1000: the contract's limit). State changes are written before the answer.
   */
  OTA_LAST_SEEN_FLUSH_MS: Type.Integer({ default: LAST_SEEN_FLUSH_MS, minimum: 10, maximum: LAST_SEEN_FLUSH_MS }),
  /** How long shutdown waits for in-flight requests (slow downloads) before closing. */
  OTA_SHUTDOWN_GRACE_MS: Type.Integer({ default: 90_000, minimum: 0 }),
  /** Milliseconds a client has to send a request's headers before its connection is closed. */
  OTA_HEADERS_TIMEOUT_MS: Type.Integer({ default: 15_000, minimum: 100, maximum: 300_000 }),
  /** Requests per minute one address may make to the device endpoints; 0 turns the limit off. */
  OTA_DEVICE_RATE_LIMIT: Type.Integer({ default: 600, minimum: 0 }),
  /** Mean event-loop delay (ms) over a sample above which device endpoints answer 503; 0 turns it off. */
  OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: Type.Integer({ default: 500, minimum: 0 }),
  /** Event-loop utilisation (0-1) over a sample above which device endpoints answer 503; 0 (the default) turns it off. */
  OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: Type.Number({ default: 0, minimum: 0, maximum: 1 }),
  /** V8 heap in use (bytes) above which device endpoints answer 503; 0 turns it off. */
  OTA_OVERLOAD_HEAP_BYTES: Type.Integer({ default: 1024 * 1024 * 1024, minimum: 0 }),
  /** Seconds a device is told to wait (Retry-After) when the server sheds load. */
  OTA_OVERLOAD_RETRY_AFTER: Type.Integer({ default: 30, minimum: 1 }),
  /** Earlier releases of a board that a new release gets delta patches from when published; 0 builds none ahead. */
  OTA_DELTA_BASES: Type.Integer({ default: 3, minimum: 0, maximum: 50 }),
  /** Devices that must report a failed apply of one patch before it is switched off for everyone. */
  OTA_DELTA_FAILURE_LIMIT: Type.Integer({ default: 3, minimum: 1, maximum: 1_000_000 }),
  /** Milliseconds one patch may take to build before the build is stopped and recorded as failed. */
  OTA_DELTA_BUILD_TIMEOUT_MS: Type.Integer({ default: 120_000, minimum: 1000 }),
  /** Whether devices must prove who they are: off (as before), optional (unproven devices do not count), required. */
  OTA_DEVICE_AUTH: Type.Union(DEVICE_AUTH_MODES.map((m) => Type.Literal(m)), { default: 'optional' }),
  /** Seconds a device token stays valid. */
  OTA_DEVICE_TOKEN_TTL: Type.Integer({ default: 24 * 3600, minimum: 60, maximum: 30 * 24 * 3600 }),
  /** Free bytes under the data folder below which /healthz answers 503; 0 turns the check off. */
  OTA_MIN_FREE_BYTES: Type.Integer({ default: 64 * 1024 * 1024, minimum: 0 }),
  /** Milliseconds a client has to send a whole request, headers and body (uploads included). */
  OTA_BODY_TIMEOUT_MS: Type.Integer({ default: 120_000, minimum: 100, maximum: 3_600_000 }),
  /** Connections open at once; more are closed as they arrive. 0 means no limit. */
  OTA_MAX_CONNECTIONS: Type.Integer({ default: 10_000, minimum: 0 }),
  /** Comma-separated host[:port] names a manifest's URL may use when OTA_PUBLIC_URL is unset. */
  OTA_ALLOWED_HOSTS: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.:\\[\\], -]*$' })),
  /** /metrics answers without a token (as before) only when true. */
  OTA_METRICS_PUBLIC: Type.Boolean({ default: false }),
  /** postgres:// or postgresql:// URL (sslmode honoured): the database is PostgreSQL. Unset: SQLite under OTA_DATA_DIR. */
  OTA_DATABASE_URL: Type.Optional(Type.String({ pattern: DATABASE_URL_PATTERN })),
  /** Connections each instance keeps to PostgreSQL. */
  OTA_DATABASE_POOL: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
})

/** The variables, and what is read from them once at start. */
export type Config = Static<typeof ConfigSchema> & {
  /** OTA_STALE_AFTER in milliseconds */
  staleAfterMs: number
}

const SECRET_VARIABLES = ['OTA_DATABASE_URL']

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads and validates the configuration once; throws ConfigError naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw))
  const problems = [...Value.Errors(ConfigSchema, converted)]
  if (problems.length > 0) {
    const lines = problems.map((e) => {
      const variable = e.path.replace(/^\//, '') || '(configuration)'
      // A database URL carries its password: never echoed.
      const shown = SECRET_VARIABLES.includes(variable) ? '(hidden)' : JSON.stringify(raw[variable] ?? null)
      return `${variable}=${shown}: ${e.message}`
    })
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`)
  }
  const config = converted as Static<typeof ConfigSchema>
  const staleAfterMs = parseDuration(config.OTA_STALE_AFTER)
  if (staleAfterMs === undefined) {
    throw new ConfigError(
      `invalid configuration:\n  OTA_STALE_AFTER=${JSON.stringify(config.OTA_STALE_AFTER)}: must be a duration above 0 and at most 3650d, like 26h`
    )
  }
  // Node measures a request's time from its first byte, so the whole request includes its headers.
  if (config.OTA_BODY_TIMEOUT_MS < config.OTA_HEADERS_TIMEOUT_MS) {
    throw new ConfigError(
      `invalid configuration:\n  OTA_BODY_TIMEOUT_MS=${config.OTA_BODY_TIMEOUT_MS}: must be at least OTA_HEADERS_TIMEOUT_MS (${config.OTA_HEADERS_TIMEOUT_MS})`
    )
  }
  if (config.OTA_DATABASE_URL !== undefined) checkDatabaseUrl(config.OTA_DATABASE_URL)
  return { ...config, OTA_DATA_DIR: path.resolve(config.OTA_DATA_DIR), staleAfterMs }
}

/** The sslmode values libpq knows; node-postgres reads the same parameter. */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']

function checkDatabaseUrl(value: string): void {
  const why = databaseUrlProblem(value)
  if (why !== undefined) {
    throw new ConfigError(`invalid configuration:\n  OTA_DATABASE_URL=(hidden): ${why}, like postgres://ota:secret@db.example:5432/ota?sslmode=require`)
  }
}

/** What is wrong with a PostgreSQL URL (OTA_DATABASE_URL, or db copy's --to), or undefined when nothing is. */
export function databaseUrlProblem(value: string): string | undefined {
  if (!new RegExp(DATABASE_URL_PATTERN).test(value)) return 'must be a postgres:// or postgresql:// URL'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'must be a URL'
  }
  if (url.hostname === '' && !url.searchParams.get('host')) return 'must name the database host'
  if (url.pathname.replace(/^\//, '') === '') return 'must name the database after the host (/dbname)'
  const sslmode = url.searchParams.get('sslmode')
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) return `sslmode must be one of ${SSL_MODES.join(', ')}`
  return undefined
}
