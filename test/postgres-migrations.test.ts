import t from 'tap'
import { migratePostgres, openPostgres } from '../src/db/postgres'
import { postgres } from './support/postgres'

t.test('PostgreSQL migrations: several instances starting at once apply them exactly once', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const url = await pg.createDatabase()
  const pools = [0, 1, 2].map(() => openPostgres({ url, pool: 2 }))
  t.teardown(() => Promise.all(pools.map((p) => p.end())))
  const results = await Promise.all(pools.map((p) => migratePostgres(p)))
  const applied = results.flat()
  t.ok(applied.includes('postgres/001_schema.sql'))
  t.equal(applied.filter((l) => l === 'postgres/001_schema.sql').length, 1, 'one instance applied it; the others waited and found it applied')
  const rows = await pools[0].query('SELECT version FROM schema_migrations ORDER BY version')
  t.same(rows.rows.map((r: { version: number }) => r.version), [...new Set(applied.map((l) => Number(l.slice(9, 12))))].sort((a, b) => a - b))
  t.same(await migratePostgres(pools[1]), [], 'a restart applies nothing')
  const auth = await pools[0].query('SELECT length(secret) AS n FROM device_auth')
  t.same(auth.rows, [{ n: 32 }], 'a device-token secret of 32 bytes')
})

t.test('PostgreSQL migrations: an applied migration edited since is refused, naming it', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const pool = openPostgres({ url: await pg.createDatabase(), pool: 1 })
  t.teardown(() => pool.end())
  const m = { version: 1, name: 'first', sql: 'CREATE TABLE first (n integer)', checksum: 'a'.repeat(64) }
  t.same(await migratePostgres(pool, [m]), ['postgres/001_first.sql'])
  await t.rejects(migratePostgres(pool, [{ ...m, checksum: 'b'.repeat(64) }]), /001_first\.sql was edited after it was applied/)
  const bad = { version: 2, name: 'broken', sql: 'CREATE TABLE second (n integer); SELECT no_such_function()', checksum: 'c'.repeat(64) }
  await t.rejects(migratePostgres(pool, [m, bad]), /002_broken\.sql failed and was rolled back/)
  t.same((await pool.query("SELECT to_regclass('second') AS t")).rows, [{ t: null }], 'nothing of the failed migration is kept')
})
