import fp from 'fastify-plugin'
import { SERVER_POOL_TIMEOUTS } from '../../db/postgres-outage'
import { openBackend, type Backend } from '../../repositories/backend'

declare module 'fastify' {
  interface FastifyInstance {
    backend: Backend
  }
}

/**
 * Opens the database (PostgreSQL when OTA_DATABASE_URL is set, else SQLite under the data folder)
 * and applies migrations; the app does not start if they fail.
 */
export default fp(
  async function dbPlugin(app) {
    const backend = await openBackend(app.config, app.clock, {
      lastSeenFlushMs: app.config.OTA_LAST_SEEN_FLUSH_MS,
      poolTimeouts: SERVER_POOL_TIMEOUTS,
    })
    app.decorate('backend', backend)
    backend.checkpoints?.onFailure((err) => app.log.error({ err }, 'SQLite checkpoints run on the event loop again: their worker failed'))
    app.addHook('onClose', async () => {
      await backend.close()
    })
  },
  { name: 'db', dependencies: ['config', 'clock'] }
)
