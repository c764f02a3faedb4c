import t from 'tap'
import { transaction } from '../src/db/postgres'
import { countsDatabase, rivalHoldingRow2 } from './support/deadlock'

// Every PostgreSQL transaction of ota-gate (a report, a rollout, a publish, a key decision) goes
// through transaction(). Two writers locking the same rows in other orders deadlock, and PostgreSQL
// cancels one: the cancelled one is run again rather than answered as a server error.

t.test('a transaction cancelled as a deadlock victim is run again and commits once', async (t) => {
  const db = await countsDatabase(t)
  if (!db) return
  const rival = await rivalHoldingRow2(t, db)
  let tries = 0
  const written = transaction(db.pool, async (q) => {
    tries++
    await q.query('UPDATE counts SET n = n + 10 WHERE k = 1')
    await q.query('UPDATE counts SET n = n + 10 WHERE k = 2')
    return 'written'
  })
  await rival.collide()
  t.equal(await written, 'written', 'the transaction answers as committed')
  t.equal(tries, 2, 'cancelled once as the deadlock victim, then run again')
  t.same((await db.pool.query('SELECT k, n FROM counts ORDER BY k')).rows, [{ k: 1, n: 11 }, { k: 2, n: 11 }], 'both transactions wrote, each once')
})

t.test('any other error is thrown at once and leaves nothing written', async (t) => {
  const db = await countsDatabase(t)
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
