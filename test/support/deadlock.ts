import pg from 'pg'
import type { Test } from 'tap'
import { postgres } from './postgres'
import { until } from './wait'

// A deadlock made on purpose, for the writers that must survive one: the writer under test updates
// row 1 then row 2 of a table `counts`; a rival session holds row 2 and, once the writer waits for
// it, asks for row 1. PostgreSQL looks for a deadlock once, deadlock_timeout after a session starts
// waiting: the writer's sessions look after 3 s (time enough for the rival to join the wait on a
// loaded machine; looking before it has would find nothing, and never look again), the rival's
// after 60 s, so PostgreSQL cancels the writer.

export interface CountsDatabase {
  url: string
  /** a pool on it, closed when the test ends */
  pool: pg.Pool
}

/** A database with `counts (k, n)` holding (1, 0) and (2, 0); undefined where PostgreSQL is missing (the test skips). */
export async function countsDatabase(t: Test): Promise<CountsDatabase | undefined> {
  const cluster = await postgres(t)
  if (!cluster) return undefined
  const url = await cluster.createDatabase()
  const pool = new pg.Pool({ connectionString: url, max: 4, options: '-c deadlock_timeout=3s' })
  t.teardown(() => pool.end())
  await pool.query('CREATE TABLE counts (k integer PRIMARY KEY, n integer NOT NULL)')
  await pool.query('INSERT INTO counts VALUES (1, 0), (2, 0)')
  return { url, pool }
}

/**
 * A rival session that has added 1 to row 2 in an open transaction. `collide()` waits until the
 * writer under test waits for a lock, then has the rival add 1 to row 1 and commit.
 */
export async function rivalHoldingRow2(t: Test, db: CountsDatabase): Promise<{ collide(): Promise<void> }> {
  const rival = new pg.Client({ connectionString: db.url })
  await rival.connect()
  t.teardown(() => rival.end())
  await rival.query("SET deadlock_timeout = '60s'")
  await rival.query('BEGIN')
  await rival.query('UPDATE counts SET n = n + 1 WHERE k = 2')
  return {
    async collide() {
      t.ok(await until(async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted')).rows[0].n > 0), 'the writer waits for the rival')
      await rival.query('UPDATE counts SET n = n + 1 WHERE k = 1')
      await rival.query('COMMIT')
    },
  }
}
