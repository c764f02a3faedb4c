import pg from 'pg'
import t from 'tap'
import { PgGroupCommit } from '../src/db/pg-group-commit'
import { postgres } from './support/postgres'
import { until } from './support/wait'

// Batches under way at once, and other instances, move devices between versions, each move locking
// two fleet_versions rows in its own order: two such transactions can deadlock, and PostgreSQL then
// cancels one. A check-in cancelled so must be written again, not dropped while its poll is answered.

t.test('an item that loses a deadlock is written again once the other transaction has gone on', async (t) => {
  const cluster = await postgres(t)
  if (!cluster) return
  const url = await cluster.createDatabase()
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  t.teardown(() => pool.end())
  await pool.query('CREATE TABLE counts (k integer PRIMARY KEY, n integer NOT NULL)')
  await pool.query('INSERT INTO counts VALUES (1, 0), (2, 0)')

  // The other transaction checks for a deadlock last, so the group commit's is the one cancelled.
  const other = new pg.Client({ connectionString: url })
  await other.connect()
  t.teardown(() => other.end())
  await other.query("SET deadlock_timeout = '20s'")
  await other.query('BEGIN')
  await other.query('UPDATE counts SET n = n + 1 WHERE k = 2')

  let tries = 0
  const commits = new PgGroupCommit<string, string>(pool, (item) => item, async (client, item) => {
    tries++
    await client.query('UPDATE counts SET n = n + 10 WHERE k = 1')
    await client.query('UPDATE counts SET n = n + 10 WHERE k = 2')
    return item
  })
  const written = commits.run('device-a')
  // The item holds k = 1 and waits for k = 2; the other transaction now asks for k = 1: a deadlock.
  t.ok(await until(async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted')).rows[0].n > 0), 'the item waits for the other transaction')
  const otherDone = other.query('UPDATE counts SET n = n + 1 WHERE k = 1').then(() => other.query('COMMIT'))

  t.equal(await written, 'device-a', 'the item is answered as written')
  await otherDone
  t.equal(tries, 2, 'cancelled once as the deadlock victim, then written')
  t.same((await pool.query('SELECT k, n FROM counts ORDER BY k')).rows, [{ k: 1, n: 11 }, { k: 2, n: 11 }], 'both transactions wrote, each once')
})
