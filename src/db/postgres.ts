import path from 'node:path'
import pg from 'pg'
import { MIGRATIONS_DIR, MigrationError, pendingMigrations, readMigrations, type AppliedMigration, type Migration } from './migrate'

/** PostgreSQL's migrations: their own ordered, checksummed files, beside SQLite's. */
export const POSTGRES_MIGRATIONS_DIR = path.join(MIGRATIONS_DIR, 'postgres')

// Milliseconds, ids and counts are BIGINT (and sums NUMERIC): node-postgres hands them over as
// strings, since they may exceed 2^53. Ours never do; read as numbers, rows match SQLite's.
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (v: string) => Number(v)
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')
  },
} as pg.CustomTypesConfig

export interface PostgresOptions {
  url: string
  /** connections kept at most */
  pool: number
  /** ms to wait for a connection before a query fails (the database is unreachable) */
  connectTimeoutMs?: number
  /** ms one statement may run before the server cancels it (and the client stops waiting a little later); none when absent */
  statementTimeoutMs?: number
}

/** A pool of connections to `url`; call `migratePostgres` before use. */
export function openPostgres(options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.pool,
    types: TYPES,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    application_name: 'ota-gate',
    keepAlive: true,
    ...(options.statementTimeoutMs === undefined
      ? {}
      : // A database that stops answering mid-statement (a partition, a frozen host) is caught by query_timeout.
        { statement_timeout: options.statementTimeoutMs, query_timeout: options.statementTimeoutMs + 250 }),
  })
  // An idle connection the server closed (restart, failover) must not crash the process; the pool
  // drops it and the next query opens another.
  pool.on('error', () => undefined)
  return pool
}

/** Any one number, the same in every instance: the key of the advisory lock migrations run under. */
const MIGRATION_LOCK = 0x07a6a7e

/**
 * Applies pending migrations in order, each in its own transaction, under an advisory lock: several
 * instances starting at once on an empty database apply them exactly once, the others wait and then
 * find them applied. Refuses to go on when an applied migration has been edited since.
 */
export async function migratePostgres(pool: pg.Pool, migrations: Migration[] = readMigrations(POSTGRES_MIGRATIONS_DIR)): Promise<string[]> {
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        checksum TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      )`)
      const applied = (await client.query<AppliedMigration>('SELECT version, checksum FROM schema_migrations')).rows
      const done: string[] = []
      for (const { migration: m, label } of pendingMigrations(migrations, applied, 'postgres/')) {
        try {
          await client.query('BEGIN')
          await client.query(m.sql)
          await client.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
            m.version,
            m.name,
            m.checksum,
            Date.now(),
          ])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined)
          throw new MigrationError(`migration ${label} failed and was rolled back: ${(err as Error).message}`)
        }
        done.push(label)
      }
      return done
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined)
    }
  } finally {
    client.release()
  }
}

/** The connection of a transaction, or the pool: both answer `query`. */
export type Queryable = Pick<pg.PoolClient, 'query'>

/** SQLSTATE 40P01 (deadlock_detected), 40001 (serialization_failure): the same transaction may succeed again. */
export function lostToConcurrentWrite(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === '40P01' || code === '40001'
}

/** How many times a transaction that lost a deadlock is run before its error is thrown. */
export const TRANSACTION_TRIES = 5

/**
 * Runs `fn` in a transaction on one connection: committed when it returns, rolled back when it
 * throws (and the error rethrown). A transaction PostgreSQL cancels as a deadlock's victim (two
 * writers locking the same rows in other orders: check-ins, a rollout, a publish) is run again:
 * `fn` must do nothing outside the transaction that cannot be done twice.
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await transactionOnce(pool, fn)
    } catch (err) {
      if (tries >= TRANSACTION_TRIES || !lostToConcurrentWrite(err)) throw err
    }
  }
}

async function transactionOnce<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}

/**
 * A statement of a hot path (every poll, every batch of check-ins), parsed and planned once a
 * connection instead of once a call: `name` must be unique in the process.
 */
export interface Prepared {
  name: string
  text: string
}

const statement = (sql: string | Prepared, params: unknown[]) => (typeof sql === 'string' ? { text: sql, values: params } : { ...sql, values: params })

/** The rows a query returns. */
export async function all<T>(q: Queryable, sql: string | Prepared, params: unknown[] = []): Promise<T[]> {
  return (await q.query(statement(sql, params))).rows as T[]
}

/** The first row a query returns, if any. */
export async function one<T>(q: Queryable, sql: string | Prepared, params: unknown[] = []): Promise<T | undefined> {
  return (await q.query(statement(sql, params))).rows[0] as T | undefined
}

/** Rows a statement changed. */
export async function changes(q: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  return (await q.query(sql, params)).rowCount ?? 0
}

/** The UNIQUE (or primary key) constraint a write hit, if that is why it failed. */
export function uniqueViolation(err: unknown): string | undefined {
  const e = err as { code?: string; constraint?: string }
  return e.code === '23505' ? (e.constraint ?? '') : undefined
}

/** The PostgreSQL types a column of `unnestRows` may have. */
export type ArrayType = 'text' | 'bigint' | 'integer' | 'boolean'

/**
 * `unnest($1::text[], $2::bigint[], …) AS alias(a, b, …)`: many rows as one relation, with one
 * array parameter a column whatever the number of rows, so a batch is one statement (and one plan).
 */
export function unnestRows<K extends string>(
  alias: string,
  columns: Record<K, ArrayType>,
  rows: ReadonlyArray<Record<K, unknown>>,
  firstParam = 1
): { sql: string; params: unknown[][] } {
  const names = Object.keys(columns) as K[]
  const arrays = names.map((name, i) => `$${firstParam + i}::${columns[name]}[]`)
  return {
    sql: `unnest(${arrays.join(', ')}) AS ${alias}(${names.join(', ')})`,
    params: names.map((name) => rows.map((row) => row[name] ?? null)),
  }
}
