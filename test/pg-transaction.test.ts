import pg from 'pg'
import t, { type Test } from 'tap'
import { transaction } from '../src/db/postgres'
import { postgres } from './support/postgres'
import { until } from './support/wait'

// Every PostgreSQL transaction of ota-gate (a report, a rollout, a publish, a key decision) goes
// through transaction(). Two writers locking the same rows in other orders deadlock, and PostgreSQL
// cancels one: the cancelled one is run again rather than answered as a server error.

async function countsTable(t: Test): Promise<{ url: string; pool: pg.Pool } | undefined> {
  const cluster = await postgres(t)
  if (!cluster) return undefined
  const url = await cluster.createDatabase()
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  t.teardown(() => pool.end())
  await pool.query('CREATE TABLE counts (k integer PRIMARY KEY, n integer NOT NULL)')
  await pool.query('INSERT INTO counts VALUES (1, 0), (2, 0)')
  return { url, pool }
}

t.test('a transaction cancelled as a deadlock victim is run again and commits once', async (t) => {
  const db = await countsTable(t)
  if (!db) return
  // The other transaction checks for a deadlock last, so ours is the one cancelled.
  const other = new pg.Client({ connectionString: db.url })
  await other.connect()
  t.teardown(() => other.end())
  await other.query("SET deadlock_timeout = '20s'")
  await other.query('BEGIN')
  await other.query('UPDATE counts SET n = n + 1 WHERE k = 2')

  let tries = 0
  const written = transaction(db.pool, async (q) => {
    tries++
    await q.query('UPDATE counts SET n = n + 10 WHERE k = 1')
    await q.query('UPDATE counts SET n = n + 10 WHERE k = 2')
    return 'written'
  })
  // Ours holds k = 1 and waits for k = 2; the other transaction now asks for k = 1: a deadlock.
  t.ok(await until(async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted')).rows[0].n > 0), 'ours waits for the other transaction')
  const otherDone = other.query('UPDATE counts SET n = n + 1 WHERE k = 1').then(() => other.query('COMMIT'))

  t.equal(await written, 'written', 'the transaction answers as committed')
  await otherDone
  t.equal(tries, 2, 'cancelled once as the deadlock victim, then run again')
  t.same((await db.pool.query('SELECT k, n FROM counts ORDER BY k')).rows, [{ k: 1, n: 11 }, { k: 2, n: 11 }], 'both transactions wrote, each once')
})

t.test('any other error is thrown at once and leaves nothing written', async (t) => {
  const db = await countsTable(t)
  if (!db) return
  let tries = 0
  await t.rejects(
    transaction(db.pool, async (q) => {
      tries++
      await q.query('UPDATE counts SET n = n + 10 WHERE k = 1')
      await q.query('UPDATE counts SET n = n + 10 WHERE k = 3 RETURNING nonexistent_column')
    }),
    { code: '42703' }
  )
  t.equal(tries, 1, 'not run again')
  t.same((await db.pool.query('SELECT k, n FROM counts ORDER BY k')).rows, [{ k: 1, n: 0 }, { k: 2, n: 0 }], 'rolled back')
})
