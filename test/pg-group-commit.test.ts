import t from 'tap'
import { PgGroupCommit } from '../src/db/pg-group-commit'
import { countsDatabase, rivalHoldingRow2 } from './support/deadlock'

// Batches under way at once, and other instances, move devices between versions, each move locking
// two fleet_versions rows in its own order: two such transactions can deadlock, and PostgreSQL then
// cancels one. A check-in cancelled so must be written again, not dropped while its poll is answered.

t.test('an item that loses a deadlock is written again once the other transaction has gone on', async (t) => {
  const db = await countsDatabase(t)
  if (!db) return
  const rival = await rivalHoldingRow2(t, db)
  let tries = 0
  const commits = new PgGroupCommit<string, string>(db.pool, (item) => item, async (client, item) => {
    tries++
    await client.query('UPDATE counts SET n = n + 10 WHERE k = 1')
    await client.query('UPDATE counts SET n = n + 10 WHERE k = 2')
    return item
  })
  const written = commits.run('device-a')
  await rival.collide()
  t.equal(await written, 'device-a', 'the item is answered as written')
  t.equal(tries, 2, 'cancelled once as the deadlock victim, then written')
  t.same((await db.pool.query('SELECT k, n FROM counts ORDER BY k')).rows, [{ k: 1, n: 11 }, { k: 2, n: 11 }], 'both transactions wrote, each once')
})
