import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import BetterSqlite3 from 'better-sqlite3'
import { ConfigError, ConfigSchema, loadConfig } from '../src/config'
import { migrate, readMigrations } from '../src/db/migrate'
import { openDatabase, databasePath } from '../src/db/open'
import { cli, createToken, startServer, tempDir } from './support/server'

t.test('config: defaults with no environment, and a bad value names its variable', async (t) => {
  const config = loadConfig({})
  t.equal(config.OTA_PORT, 8080)
  t.equal(config.OTA_HOST, '0.0.0.0')
  t.equal(config.OTA_DATA_DIR, path.resolve('./data'))
  t.equal(config.OTA_TAG_PATTERN, 'prod-*')
  t.equal(config.OTA_LEGACY_BOARD, 'esp32cam')
  try {
    loadConfig({ OTA_PORT: 'eighty' })
    t.fail('a bad port is accepted')
  } catch (err) {
    t.type(err, ConfigError)
    t.match((err as Error).message, /OTA_PORT="eighty"/)
  }
  t.throws(() => loadConfig({ OTA_PORT: '70000' }), /OTA_PORT/)
  t.throws(() => loadConfig({ OTA_LEGACY_BOARD: 'Bad Board' }), /OTA_LEGACY_BOARD/)
  // A release branch git cannot have is refused at start, not at every publish's provenance check.
  for (const branch of ['hot..fix', '-x', 'no spaces']) t.throws(() => loadConfig({ OTA_RELEASE_BRANCH: branch }), /OTA_RELEASE_BRANCH/, branch)
  t.equal(loadConfig({ OTA_RELEASE_BRANCH: 'release/v2.x' }).OTA_RELEASE_BRANCH, 'release/v2.x')
  t.throws(() => loadConfig({ OTA_PUBLIC_URL: 'ftp://x' }), /OTA_PUBLIC_URL/)
  for (const stale of ['0h', '9999999h', '4000d']) {
    t.throws(() => loadConfig({ OTA_STALE_AFTER: stale }), /OTA_STALE_AFTER/, `OTA_STALE_AFTER=${stale} is refused at start`)
  }
})

t.test('.env.example lists every configuration variable', async (t) => {
  const example = fs.readFileSync(path.join(__dirname, '..', '.env.example'), 'utf8')
  for (const key of Object.keys(ConfigSchema.properties)) {
    t.match(example, new RegExp(`^#? ?${key}=`, 'm'), `${key} is in .env.example`)
  }
})

t.test('migrations: applied once each in order, WAL, edits after applying stop the start', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  const applied = db.prepare('SELECT version, checksum FROM schema_migrations ORDER BY version').all() as Array<{
    version: number
    checksum: string
  }>
  const onDisk = readMigrations()
  t.same(
    applied.map((a) => a.version),
    onDisk.map((m) => m.version)
  )
  t.same(migrate(db), [], 'a second run applies nothing')
  db.close()

  // An applied migration edited afterwards: the database refuses to open.
  const edited = onDisk.map((m, i) => (i === 0 ? { ...m, checksum: 'f'.repeat(64) } : m))
  const raw = new BetterSqlite3(databasePath(dir))
  t.throws(() => migrate(raw, edited), /edited after it was applied/)
  raw.close()
})

t.test('a failing migration is rolled back whole and stops the start', async (t) => {
  const dir = tempDir(t)
  const raw = new BetterSqlite3(path.join(dir, 'x.db'))
  const bad = [{ version: 1, name: 'bad', sql: 'CREATE TABLE a (x INTEGER); INSERT INTO nope VALUES (1);', checksum: 'x' }]
  t.throws(() => migrate(raw, bad), /001_bad\.sql failed/)
  t.equal((raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'a'").get() as { n: number }).n, 0, 'nothing of it stays')
  raw.close()
})

t.test('GET /healthz answers when the database answers', async (t) => {
  const server = await startServer(t)
  const res = await fetch(`${server.url}/healthz`)
  t.equal(res.status, 200)
  t.same(await res.json(), { status: 'ok' })
  t.ok(fs.existsSync(path.join(server.dataDir, 'ota-gate.db')), 'the database lives in the data folder')
})

t.test('GET /healthz answers 503 insufficient_storage, through the error handler, while the data folder has less than OTA_MIN_FREE_BYTES free', async (t) => {
  // More than any disk this test runs on has free: the real free space of the real folder is under it.
  const server = await startServer(t, { OTA_MIN_FREE_BYTES: String(2 ** 52) })
  const res = await fetch(`${server.url}/healthz`)
  t.equal(res.status, 503, '503, the status a load balancer takes out of rotation (an upload refused for space is 507)')
  const body = (await res.json()) as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['error', 'message'])
  t.match(body, { error: 'insufficient_storage', message: /^the data folder .* free, under OTA_MIN_FREE_BYTES \(.*\): uploads and check-ins will fail; free some space$/ })
})

t.test('unknown routes answer a JSON 404', async (t) => {
  const server = await startServer(t)
  const res = await fetch(`${server.url}/nowhere`)
  t.equal(res.status, 404)
  t.same(await res.json(), { error: 'not_found', message: 'no route for GET /nowhere' })
})

t.test('tokens: created once, stored hashed, listed, revoked', async (t) => {
  const dir = tempDir(t)
  const token = await createToken(dir, 'releaser', 'ci')
  t.match(token, /^otg_[A-Za-z0-9_-]{43}$/)
  const db = new BetterSqlite3(databasePath(dir), { readonly: true })
  const rows = db.prepare('SELECT * FROM tokens').all()
  db.close()
  t.notMatch(JSON.stringify(rows), token.slice(4, 20), 'the token itself is not stored')

  const again = await cli(['token', 'create', '--role', 'admin', '--name', 'ci'], { OTA_DATA_DIR: dir })
  t.equal(again.code, 1, 'a second active token of the same name is refused')
  const usage = await cli(['token', 'create', '--role', 'root', '--name', 'x'], { OTA_DATA_DIR: dir })
  t.equal(usage.code, 2)
  t.match(usage.stderr, /--role must be one of/)

  const list = await cli(['token', 'list'], { OTA_DATA_DIR: dir })
  t.match(list.stdout, /ci\s+releaser\s+active/)
  t.equal((await cli(['token', 'revoke', 'ci'], { OTA_DATA_DIR: dir })).code, 0)
  t.match((await cli(['token', 'list'], { OTA_DATA_DIR: dir })).stdout, /ci\s+releaser\s+revoked/)
  t.equal((await cli(['token', 'revoke', 'ci'], { OTA_DATA_DIR: dir })).code, 1)
})
