import fp from 'fastify-plugin'
import type { Database } from 'better-sqlite3'
import { openDatabase } from '../../db/open'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
  }
}

/** Opens SQLite under the data folder and applies migrations; the app does not start if they fail. */
export default fp(
  async function dbPlugin(app) {
    const db = openDatabase(app.config.OTA_DATA_DIR)
    app.decorate('db', db)
    app.addHook('onClose', async () => {
      db.close()
    })
  },
  { name: 'db', dependencies: ['config'] }
)
