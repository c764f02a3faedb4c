import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { PgChangeFeed } from '../src/db/change-feed'
import { migratePostgres, openPostgres, POSTGRES_MIGRATIONS_DIR } from '../src/db/postgres'
import { postgres, type PostgresCluster } from './support/postgres'
import type { TestContext } from './support/server'

// Every instance hears a committed change to a cached table, from any writer, within a second:
// the change triggers of migrations/postgres/change_feed.sql and PgChangeFeed on a real cluster.

const FEED_SQL = fs.readFileSync(path.join(POSTGRES_MIGRATIONS_DIR, '004_change_feed.sql'), 'utf8')
// The tables of 004's list, and those later migrations put on the feed one trigger at a time.
const LATER_FEED_TABLES = fs
  .readdirSync(POSTGRES_MIGRATIONS_DIR)
  .filter((file) => file > '004_change_feed.sql' && file.endsWith('.sql'))
  .flatMap((file) => [...fs.readFileSync(path.join(POSTGRES_MIGRATIONS_DIR, file), 'utf8').matchAll(/CREATE TRIGGER ([a-z_]+)_changed\b/g)].map((m) => m[1]))
const TABLES = [...[...(/ARRAY\[([^\]]+)\]/.exec(FEED_SQL)?.[1] ?? '').matchAll(/'([a-z_]+)'/g)].map((m) => m[1]), ...LATER_FEED_TABLES]
/** What a subscriber must hear within: the bound for every instance to agree. */
const AGREE_MS = 1000

/** A database with ota-gate's schema; `sql` writes to it as another process (an instance, the CLI, psql) would. */
async function feedDatabase(t: TestContext, pg: PostgresCluster): Promise<{ url: string; sql: (q: string) => Promise<unknown> }> {
  const url = await pg.createDatabase()
  const pool = openPostgres({ url, pool: 1 })
  await migratePostgres(pool).finally(() => pool.end())
  const name = new URL(url).pathname.slice(1)
  return { url, sql: (q: string) => pg.query(q, [], name) }
}

/** A feed that counts what each of its subscriptions heard. */
async function instance(t: TestContext, url: string, tables: string[]) {
  const feed = new PgChangeFeed(url)
  t.teardown(() => feed.close())
  await feed.start()
  const heard = new Map(tables.map((table) => [table, 0]))
  for (const table of tables) feed.subscribe([table], () => heard.set(table, (heard.get(table) ?? 0) + 1))
  return { feed, heard }
}

async function until(what: string, ok: () => boolean, ms = AGREE_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(5)
  }
}

t.test('a committed change reaches every instance within a second; a rolled-back one reaches none', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const { url, sql } = await feedDatabase(t, pg)
  const triggers = await pg.query<{ tgname: string }>("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%\\_changed' ORDER BY tgname", [], new URL(url).pathname.slice(1))
  t.same(triggers.map((r) => r.tgname), TABLES.map((table) => `${table}_changed`).sort(), `a trigger on each of ${TABLES.join(', ')}`)
  t.ok(['rollouts', 'channel_rollbacks', 'device_pins', 'tokens', 'release_keys', 'boards'].every((table) => TABLES.includes(table)), 'the tables of plans, pins, tokens, keys and boards among them')
  const a = await instance(t, url, ['rollout_policies', 'tokens'])
  const b = await instance(t, url, ['rollout_policies', 'tokens'])

  await sql("INSERT INTO rollout_policies (board, channel, updated_at) VALUES ('esp32cam', 'beta', 0)")
  await until('both instances hear of the policy change', () => a.heard.get('rollout_policies') === 1 && b.heard.get('rollout_policies') === 1)
  t.pass('heard by both')
  t.equal(a.heard.get('tokens'), 0, 'only the subscribers of that table')

  await sql("BEGIN; UPDATE rollout_policies SET updated_at = 1; ROLLBACK;")
  await sql('DELETE FROM tokens')
  await until('the token change', () => a.heard.get('tokens') === 1 && b.heard.get('tokens') === 1)
  t.equal(a.heard.get('rollout_policies'), 1, 'the rolled-back update was never heard (it came before the token change)')
  t.equal(b.heard.get('rollout_policies'), 1)
})

t.test('after the database was gone the feed listens again by itself and every cache re-reads', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const { url, sql } = await feedDatabase(t, pg)
  const a = await instance(t, url, ['rollouts', 'boards'])
  t.ok(a.feed.connected)
  pg.stop()
  await until('the feed notices the loss', () => !a.feed.connected, 5000)
  pg.start()
  await until('the feed listens again', () => a.feed.connected, 10_000)
  t.same([a.heard.get('rollouts'), a.heard.get('boards')], [1, 1], 'every subscriber told that anything may have changed')
  await sql("INSERT INTO boards (name, chip, chip_id, slot_size, created_at) VALUES ('cam2', 'esp32', 0, 1966080, 0)")
  await until('a change after the restart', () => a.heard.get('boards') === 2)
  t.pass('changes are heard again')
})
