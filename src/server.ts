import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import app from './app'
import { ConfigError, loadConfig, type Config } from './config'
import { trackInFlight } from './drain'
import { loggerOptions } from './logger'
import { lazyRequestLogger } from './lazy-request-logger'
import { RequestLog } from './request-log'
import { canonicalNumberValidators } from './schemas/canonical-numbers'
import { answerClientError, answerExpectation, answerFrameworkError } from './http/raw-answers'

/**
 * The Fastify instance with the application registered: the one production runs and tests use.
 * Timeouts suit slow devices: a 2 MB download at 25 KB/s takes 80 s and must not be cut, but a
 * connection that never finishes its headers is closed.
 */
export function createServer(config: Config): FastifyInstance {
  const server = Fastify({
    logger: loggerOptions(config),
    logController: new RequestLog(),
    childLoggerFactory: lazyRequestLogger,
    trustProxy: config.OTA_TRUST_PROXY ? config.OTA_TRUST_PROXY.split(',').map((s) => s.trim()).filter(Boolean) : false,
    // Idle sockets are closed after this; a slow download that keeps moving is never idle.
    connectionTimeout: 60_000,
    keepAliveTimeout: 5_000,
    // Receiving a whole request, headers and body (uploads of release binaries included), takes at
    // most this: a body that trickles in is cut. Sending the answer (a slow download) is not counted.
    requestTimeout: config.OTA_BODY_TIMEOUT_MS,
    bodyLimit: 64 * 1024,
    http: {
      // Node enforces both timeouts only when it sweeps its connections, every 30 s by default,
      // which would let a stalled client hold a socket for up to 45 s; sweep at a quarter of the shorter.
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(config.OTA_HEADERS_TIMEOUT_MS / 4))),
      // Node's own answer to a missing Host is a bare 400 without a body: host-required.ts answers it.
      requireHostHeader: false,
    },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
    // Numbers come in only in plain decimal form and finite, on every route (see canonical-numbers.ts).
    schemaController: { compilersFactory: { buildValidator: canonicalNumberValidators() } },
  }).withTypeProvider<TypeBoxTypeProvider>()
  server.server.headersTimeout = config.OTA_HEADERS_TIMEOUT_MS
  // Connections beyond this are closed as they arrive; downloads already under way are not affected.
  if (config.OTA_MAX_CONNECTIONS > 0) server.server.maxConnections = config.OTA_MAX_CONNECTIONS
  server.server.on('checkExpectation', answerExpectation)

  server.register(app, { config })
  return server
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`ota-gate: ${err.message}`)
      process.exitCode = 1
      return
    }
    throw err
  }
  const server = createServer(config)
  const inFlight = trackInFlight(server.server)
  // close-with-grace exits anyway once OTA_SHUTDOWN_GRACE_MS has passed.
  closeWithGrace({ delay: config.OTA_SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) server.log.error({ err }, 'shutting down after an error')
    else server.log.info({ signal }, 'shutting down: finishing the requests in flight')
    await inFlight.drain()
    await server.close()
  })
  try {
    await server.listen({ host: config.OTA_HOST, port: config.OTA_PORT })
  } catch (err) {
    server.log.fatal({ err }, 'could not start')
    process.exitCode = 1
    await server.close().catch(() => undefined)
  }
}

if (require.main === module) {
  void main()
}
