import type { Database } from 'better-sqlite3'
import type pg from 'pg'
import type { Clock } from '../clock'
import type { Config } from '../config'
import { openDatabase } from '../db/open'
import type { PostgresOptions } from '../db/postgres'
import { WalCheckpoints } from '../db/wal-checkpoints'
import { createRepositories, type Repositories, type RepositoryOptions } from '.'

/** The database the configuration names, opened and migrated, with every repository over it. */
export interface Backend {
  kind: 'sqlite' | 'postgres'
  repos: Repositories
  /** SQLite's database (kind sqlite) */
  db?: Database
  /** SQLite's checkpoints, taken off the event loop once it writes in earnest (kind sqlite) */
  checkpoints?: WalCheckpoints
  /** PostgreSQL's pool (kind postgres): the change feed and the artifact store use it too */
  pool?: pg.Pool
  /** throws while the database does not answer */
  ping(): Promise<void>
  close(): Promise<void>
}

export type BackendConfig = Pick<Config, 'OTA_DATA_DIR' | 'OTA_DATABASE_URL' | 'OTA_DATABASE_POOL'>

export type PoolTimeouts = Pick<PostgresOptions, 'connectTimeoutMs' | 'statementTimeoutMs'>

export interface BackendOptions extends RepositoryOptions {
  /** the pool's timeouts (the server's fail fast while PostgreSQL is out of reach); openPostgres' defaults when absent */
  poolTimeouts?: PoolTimeouts
}

/**
 * PostgreSQL when OTA_DATABASE_URL is set, else SQLite under OTA_DATA_DIR; chosen once at start.
 * Migrations are applied before it returns: the app does not start when they fail.
 */
export async function openBackend(config: BackendConfig, clock: Clock, options: BackendOptions = {}): Promise<Backend> {
  if (config.OTA_DATABASE_URL === undefined) {
    const db = openDatabase(config.OTA_DATA_DIR)
    const repos = createRepositories(db, clock, options)
    const checkpoints = new WalCheckpoints(db)
    return {
      kind: 'sqlite',
      db,
      checkpoints,
      repos,
      async ping() {
        db.prepare('SELECT 1').get()
      },
      async close() {
        await checkpoints.close()
        // The last_seen refreshes waiting in memory are written before the database closes.
        repos.devices.close()
        db.close()
      },
    }
  }
  // Loaded here, not at start: an installation on SQLite never loads the PostgreSQL client.
  const { migratePostgres, openPostgres } = await import('../db/postgres.js')
  const { createPostgresRepositories } = await import('./postgres/index.js')
  // Migrations on a connection of their own, without the statement timeout: a schema change may
  // take longer than any request should.
  const migrator = openPostgres({ url: config.OTA_DATABASE_URL, pool: 1 })
  try {
    await migratePostgres(migrator)
  } finally {
    await migrator.end()
  }
  const pool = openPostgres({ url: config.OTA_DATABASE_URL, pool: config.OTA_DATABASE_POOL, ...options.poolTimeouts })
  return {
    kind: 'postgres',
    pool,
    repos: createPostgresRepositories(pool, clock),
    async ping() {
      await pool.query('SELECT 1')
    },
    async close() {
      await pool.end()
    },
  }
}
