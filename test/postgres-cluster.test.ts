import t from 'tap'
import { postgres } from './support/postgres'

// The throwaway cluster the PostgreSQL suites run on: its databases are separate, and it survives
// a stop and start with its data (the outage tests rely on both).
t.test('a throwaway cluster: databases of their own, data kept across stop and start', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const a = await pg.createDatabase()
  const b = await pg.createDatabase()
  t.not(a, b)
  const name = (url: string) => new URL(url).pathname.slice(1)
  await pg.query('CREATE TABLE kept (n integer)', [], name(a))
  await pg.query('INSERT INTO kept VALUES (42)', [], name(a))
  t.same(await pg.query('SELECT to_regclass($1) AS t', ['kept'], name(b)), [{ t: null }], 'database b does not see a')
  pg.stop()
  await t.rejects(pg.query('SELECT 1', [], name(a)), 'stopped: connections are refused')
  pg.start()
  t.same(await pg.query('SELECT n FROM kept', [], name(a)), [{ n: 42 }])
  const version = await pg.query<{ server_version_num: string }>('SHOW server_version_num')
  t.ok(Number(version[0].server_version_num) >= 150000, 'PostgreSQL 15 or later')
})
