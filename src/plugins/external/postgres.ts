import fp from 'fastify-plugin'
import type { Pool } from 'pg'
import { SERVER_POOL_TIMEOUTS } from '../../db/postgres-outage'
import { migratePostgres, openPostgres } from '../../db/postgres'

declare module 'fastify' {
  interface FastifyInstance {
    /** The PostgreSQL pool when OTA_DATABASE_URL is set; undefined on SQLite. */
    pg: Pool | undefined
  }
}

/**
 * The PostgreSQL pool, when OTA_DATABASE_URL selects it, with its migrations applied. The database
 * must answer at start (a wrong URL or password stops the instance with the reason); after that,
 * an outage makes requests that need it answer 503 until it is back, with no restart.
 */
export default fp(
  async function postgresPlugin(app) {
    const url = app.config.OTA_DATABASE_URL
    if (url === undefined) {
      app.decorate('pg', undefined)
      return
    }
    const pool = openPostgres({ url, pool: app.config.OTA_DATABASE_POOL, ...SERVER_POOL_TIMEOUTS })
    app.decorate('pg', pool)
    app.addHook('onClose', async () => {
      await pool.end()
    })
    const applied = await migratePostgres(pool)
    if (applied.length > 0) app.log.info({ migrations: applied }, 'PostgreSQL migrations applied')
  },
  { name: 'postgres', dependencies: ['config'] }
)
