import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import app from './app'
import { systemClock, type Clock } from './clock'
import { loadConfig, type Config } from './config'
import { trackInFlight } from './drain'
import { loggerOptions } from './logger'
import { lazyRequestLogger } from './lazy-request-logger'
import { RequestLog } from './request-log'
import { startFailureLine } from './start-failure'
import { canonicalNumberValidators } from './schemas/canonical-numbers'
import { sharedSerializers } from './schemas/serializers'
import { answerClientError, answerExpectation, answerFrameworkError } from './http/raw-answers'

// Route schemas are compiled once per process, however many apps it builds (several instances, or
// a test file's servers), and each at its first use: compiling them all cost about 0.6 s of CPU an app.
const compilersFactory = { buildValidator: canonicalNumberValidators(), buildSerializer: sharedSerializers() }

/**
 * The Fastify instance with the application registered: the one production runs and tests use.
 * Timeouts suit slow devices: a 2 MB download at 25 KB/s takes 80 s and must not be cut, but a
 * connection that never finishes its headers is closed. Production runs on the system clock.
 */
export function createServer(config: Config, clock: Clock = systemClock): FastifyInstance {
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
    schemaController: { compilersFactory },
  }).withTypeProvider<TypeBoxTypeProvider>()
  server.server.headersTimeout = config.OTA_HEADERS_TIMEOUT_MS
  // Connections beyond this are closed as they arrive; downloads already under way are not affected.
  if (config.OTA_MAX_CONNECTIONS > 0) server.server.maxConnections = config.OTA_MAX_CONNECTIONS
  server.server.on('checkExpectation', answerExpectation)

  server.register(app, { config, clock })
  return server
}

async function main(): Promise<void> {
  let config: Config | undefined
  let server: FastifyInstance | undefined
  try {
    config = loadConfig()
    server = createServer(config)
    // Plugins (database, keys) load here, so a data folder that cannot be opened fails here too.
    await server.listen({ host: config.OTA_HOST, port: config.OTA_PORT })
  } catch (err) {
    // One line a person reads, and a non-zero status so that systemd's Restart=on-failure acts.
    console.error(startFailureLine(err, { host: config?.OTA_HOST ?? '', port: config?.OTA_PORT ?? 0, dataDir: config?.OTA_DATA_DIR ?? '' }))
    await server?.close().catch(() => undefined)
    process.exit(1)
  }
  const running = server
  const inFlight = trackInFlight(running.server)
  // Registered once listening: close-with-grace ends the process itself (with status 0 on its own
  // beforeExit), which must not hide a start that failed. It exits anyway after OTA_SHUTDOWN_GRACE_MS.
  closeWithGrace({ delay: config.OTA_SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) running.log.error({ err }, 'shutting down after an error')
    else running.log.info({ signal }, 'shutting down: finishing the requests in flight')
    await inFlight.drain()
    await running.close()
  })
}

if (require.main === module) {
  void main()
}
