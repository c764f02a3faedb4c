import fp from 'fastify-plugin'
import type { Pool } from 'pg'
import { createPgPool } from '../../db/pg-pool'

declare module 'fastify' {
  interface FastifyInstance {
    /** The PostgreSQL pool when OTA_DATABASE_URL is set; undefined on SQLite. */
    pg: Pool | undefined
  }
}

/**
 * The PostgreSQL pool, when OTA_DATABASE_URL selects it. The database must answer at start (a
 * wrong URL or password stops the instance with the reason); after that, an outage makes requests
 * that need it answer 503 until it is back, with no restart.
 */
export default fp(
  async function postgresPlugin(app) {
    const url = app.config.OTA_DATABASE_URL
    if (url === undefined) {
      app.decorate('pg', undefined)
      return
    }
    const pool = createPgPool(url, app.config.OTA_DATABASE_POOL)
    app.decorate('pg', pool)
    app.addHook('onClose', async () => {
      await pool.end()
    })
    await pool.query('SELECT 1')
  },
  { name: 'postgres', dependencies: ['config'] }
)
