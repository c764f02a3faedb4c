import crypto from 'node:crypto'
import path from 'node:path'
import t from 'tap'
import { SERVER_KEY_FILE } from '../src/manifest/server-key'
import { Client } from 'pg'
import { migratePostgres, openPostgres } from '../src/db/postgres'
import { runBuiltCli, spawnBuiltCli } from './support/built-cli'
import { admitted, decide, enroll, newDeviceKey, pollWith } from './support/device-credentials'
import { settledPatches } from './support/delta'
import { deviceId, report } from './support/devices'
import { reviseEspImage, smallCodeChange } from './support/esp-image-builder'
import { FLEET_ENV } from './support/env'
import { call, getJson } from './support/http'
import { pollManifest } from './support/manifest-poll'
import { postgres, type PostgresCluster } from './support/postgres'
import { publishRelease, sha256Of } from './support/publish'
import { until } from './support/wait'
import { cli, createToken, startServer, tempDir, type RunningServer, type TestContext } from './support/server'

// `ota-gate db copy --to postgres://…`: a SQLite installation populated through the server and the
// CLI, copied by the real CLI process into an empty PostgreSQL database; an instance on that
// database then answers every device and every operator view as the SQLite one did.

const DEVICES = 16

// Populating the installation is most of the file's time: the tests share one (copies only read it).

interface Installation {
  dataDir: string
  operator: string
  /** every device id that polled */
  devices: string[]
  /** an enrolled device and the device token the SQLite server issued it */
  enrolled: { device: string; token: string }
  /** the binary of v1, which a delta patch to v2 starts from */
  v1: string
  /** a device whose key an operator revoked, and the device token it had before */
  revoked: { device: string; token: string }
  /** v1's factory image */
  factory: Buffer
  /** an enrollment token made for a batch, and a device id on the allow-list: both unused yet */
  enrollmentToken: string
  allowed: string
}

/**
 * A data folder with what an installation accumulates: two boards, releases on two channels, a
 * rollout at 40 %, devices that moved between versions (history), update reports (one failed), a
 * pin, a paused and resumed rollout (audit), tokens, a trusted key, an enrolled device.
 */
async function populate(t: TestContext): Promise<Installation> {
  const server = await startServer(t, FLEET_ENV)
  const env = { OTA_DATA_DIR: server.dataDir }
  const board = await cli(['board', 'add', 'lab-cam', '--chip', 'esp32', '--slot-size', '1966080'], env)
  if (board.code !== 0) throw new Error(`board add: ${board.stderr}`)
  const operator = await createToken(server.dataDir, 'operator', 'ops-copy')
  await createToken(server.dataDir, 'admin', 'root')

  // v1 comes with a factory image (first flash): its row and its binary are copied too.
  const v1 = await publishRelease(server, { version: 'v1', sequence: 1, factory: true })
  if (!v1.factory) throw new Error('v1 was published without its factory image')
  const devices = Array.from({ length: DEVICES }, (_, i) => deviceId(i + 1, 0xc0))
  for (const d of devices) await pollManifest(server, { device: d, version: 'v0', sequence: 0 })
  // The first half take v1: history rows and the update states.
  for (const d of devices.slice(0, DEVICES / 2)) {
    for (const status of ['downloading', 'installed', 'booted']) await report(server, d, { status, version: 'v1', sequence: 1 })
    await pollManifest(server, { device: d, version: 'v1', sequence: 1 })
  }
  await report(server, devices[DEVICES / 2], { status: 'failed', version: 'v1', sequence: 1, detail: 'flash write failed' })
  // v2 is a small change of v1: the server builds a delta patch from v1 (a row and an artifact).
  const v2Image = reviseEspImage(v1.image, (code) => smallCodeChange(code, 2))
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 40, image: v2Image })
  const patches = await settledPatches(server, operator, 'v2')
  if (!patches.some((p) => p.state === 'ready')) throw new Error(`no delta patch to v2: ${JSON.stringify(patches)}`)
  // The field fleet polls /firmware.json without an identity: counted per address and user agent.
  const field = await fetch(`${server.url}/firmware.json`, { headers: { 'user-agent': 'hivehive-ota/1.0' } })
  if (field.status !== 200) throw new Error(`/firmware.json answered ${field.status}`)
  await publishRelease(server, { version: 'b1', sequence: 3, channel: 'beta' })
  for (const d of devices.slice(-3)) await pollManifest(server, { device: d, channel: 'beta', version: 'v0', sequence: 0 })
  const pin = await call(server, 'PUT', '/v1/pins', operator, { devices: [devices[2]], board: 'esp32cam', version: 'v1', reason: 'lab unit' })
  if (pin.status !== 200) throw new Error(`pin: ${JSON.stringify(pin.body)}`)
  for (const action of ['pause', 'resume']) {
    const r = await call(server, 'POST', `/v1/rollouts/esp32cam/stable/${action}`, operator, { reason: `copy test ${action}` })
    if (r.status !== 200) throw new Error(`${action}: ${r.status} ${JSON.stringify(r.body)}`)
  }
  const enrolledId = deviceId(99, 0xc0)
  const { token } = await admitted(server, operator, enrolledId)
  await pollWith(server, enrolledId, { version: 'v1', sequence: 1 }, token)
  // Device credentials beyond one accepted key: a revoked device, an enrollment token, the allow-list.
  const revokedId = deviceId(97, 0xc0)
  const revoked = await admitted(server, operator, revokedId)
  const revoke = await decide(server, operator, 'revoke', revokedId, { reason: 'stolen unit' })
  if (revoke.status !== 200) throw new Error(`revoke: ${revoke.status} ${JSON.stringify(revoke.body)}`)
  const batch = await call(server, 'POST', '/v1/enrollment-tokens', operator, { name: 'batch-7', max_uses: 5 })
  if (batch.status !== 201) throw new Error(`enrollment token: ${batch.status} ${JSON.stringify(batch.body)}`)
  const allowed = deviceId(96, 0xc0)
  const allow = await call(server, 'POST', '/v1/device-allowlist/add', operator, { devices: [allowed], note: 'batch 7' })
  if (allow.status !== 200) throw new Error(`allow-list: ${allow.status} ${JSON.stringify(allow.body)}`)
  await publishRelease(server, { board: 'lab-cam', version: 'lab1', sequence: 1 })
  // Closed: what it held in memory (last_seen refreshes) is in the database.
  await server.close()
  return {
    dataDir: server.dataDir,
    operator,
    devices: [...devices, enrolledId],
    enrolled: { device: enrolledId, token },
    v1: v1.sha256,
    factory: v1.factory,
    revoked: { device: revokedId, token: revoked.token },
    enrollmentToken: (batch.body as { token: string }).token,
    allowed,
  }
}

/** The server key's public half, as /v1/keys gives it to devices. */
async function serverPublicKey(server: RunningServer): Promise<crypto.KeyObject> {
  const keys = await getJson<{ server: { public_key_pem: string } }>(server, '/v1/keys', '')
  return crypto.createPublicKey(keys.body.server.public_key_pem)
}

/**
 * What `server` answers `device` running `runs`: the status, and for a manifest its signed fields
 * once the signature is verified, without the signing window (issued_at, expires_at) and with the
 * binary's URL as a path (each server has its own address).
 */
async function offerTo(
  t: TestContext & { ok(v: unknown, m: string): void },
  server: RunningServer,
  key: crypto.KeyObject,
  device: string,
  runs: Record<string, string | number | undefined>
): Promise<{ status: number; body?: string; fields?: Record<string, unknown> }> {
  const answer = await pollManifest(server, { device, ...runs })
  if (answer.status !== 200) return { status: answer.status, body: answer.body.toString('utf8') }
  const signature = Buffer.from(String(answer.headers['x-ota-signature']), 'base64')
  t.ok(crypto.verify('sha256', answer.body, { key, dsaEncoding: 'der' }, signature), `${device}: the manifest verifies under the server key`)
  const { issued_at: _issued, expires_at: _expires, url, ...signed } = answer.manifest as Record<string, unknown>
  const fields: Record<string, unknown> = { ...signed, url: new URL(String(url)).pathname }
  const delta = signed.delta as { url: string } | undefined
  if (delta) fields.delta = { ...delta, url: new URL(delta.url).pathname }
  return { status: 200, fields }
}

/** Operator views whose answers must not depend on the backend. */
const VIEWS = ['/v1/device-allowlist', '/v1/enrollment-tokens', '/v1/fleet/versions', '/v1/fleet/legacy', '/v1/releases/esp32cam/v2', '/v1/devices?limit=500', '/v1/audit?limit=500', '/v1/pins?board=esp32cam', '/v1/rollouts/esp32cam', '/v1/rollouts/lab-cam', '/v1/releases', '/v1/boards', '/v1/keys', '/v1/device-keys', '/v1/releases/esp32cam/v1/adoption']

let populated: Promise<Installation> | undefined
/** The file's one populated installation, made on first use, removed when the file ends. */
const installation = () => (populated ??= populate(t))

function copyInto(dataDir: string, url: string, extra: string[] = []) {
  return runBuiltCli(['db', 'copy', '--to', url, ...extra], { OTA_DATA_DIR: dataDir })
}

const databaseName = (url: string) => new URL(url).pathname.slice(1)

/** Rows per table of the database at `url` (every table of its schema). */
async function rowCounts(pg: PostgresCluster, url: string): Promise<Record<string, number>> {
  const tables = await pg.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", [], databaseName(url))
  const counts: Record<string, number> = {}
  for (const { name } of tables) counts[name] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${name}"`, [], databaseName(url)))[0].n
  return counts
}

t.test('db copy: an instance on the PostgreSQL copy answers every device and every view as the SQLite installation did', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const source = await installation()
  const url = await pg.createDatabase()

  const copied = await copyInto(source.dataDir, url, ['--json'])
  t.equal(copied.code, 0, copied.stderr)
  const summary = JSON.parse(copied.stdout) as { tables: Record<string, number>; derived: Record<string, number>; artifacts: { count: number; written: number }; server_key_id: string }
  t.match(summary.tables, { releases: 4, devices: DEVICES + 1, tokens: 3, release_keys: 1, boards: 2, device_pins: 1, device_keys: 2 })
  t.match(summary.tables, { enrollment_tokens: 1, device_allowlist: 1, device_revocations: 1 }, 'device credentials copied')
  t.ok(summary.tables.device_history > DEVICES, 'device history copied')
  t.ok(summary.tables.reports >= DEVICES / 2 * 3 + 1, 'reports copied')
  t.ok(summary.tables.audit_log >= 3, 'audit copied')
  t.match(summary.artifacts, { count: 6, written: 6 }, "four release binaries, v1's factory image and a delta patch")
  t.match(summary.tables, { factory_images: 1 }, "v1's factory image")
  t.match(summary.tables, { legacy_clients: 1 })
  t.ok(summary.tables.delta_patches >= 1, `delta patch rows, ready and failed (${summary.tables.delta_patches})`)
  t.equal(summary.derived.fleet_versions, (await rowCounts(pg, url)).fleet_versions, 'the fleet counts the triggers rebuilt')

  // The SQLite installation again, and a PostgreSQL instance with a data folder of its own: the
  // binaries it serves come from the database. It signs with the installation's server key.
  const sqlite = await startServer(t, FLEET_ENV, { dataDir: source.dataDir })
  const pgServer = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url, OTA_SERVER_KEY: path.join(source.dataDir, SERVER_KEY_FILE) })

  for (const view of VIEWS) {
    const [a, b] = [await getJson(sqlite, view, source.operator), await getJson(pgServer, view, source.operator)]
    t.equal(b.status, 200, `${view} on PostgreSQL with the operator token made on SQLite`)
    t.same(b.body, a.body, `${view}: the same answer`)
  }
  const details = new Map<string, { board: string; channel: string; version: string; sequence: number }>()
  for (const d of source.devices) {
    const [a, b] = [await getJson<{ board: string; channel: string; version: string; sequence: number }>(sqlite, `/v1/devices/${d}`, source.operator), await getJson(pgServer, `/v1/devices/${d}`, source.operator)]
    t.same(b.body, a.body, `${d}: history, reports, update states and rollout standing`)
    details.set(d, a.body)
  }

  const [keyA, keyB] = [await serverPublicKey(sqlite), await serverPublicKey(pgServer)]
  t.ok(keyA.equals(keyB), 'one server key')
  const offered = new Set<unknown>()
  let deltas = 0
  for (const d of source.devices) {
    if (d === source.enrolled.device) continue
    const { board, channel, version, sequence } = details.get(d)!
    // Devices on v1 say they take deltas: those in v2's 40 % are offered the patch copied with it.
    const runs = version === 'v1' ? { board, channel, version, sequence, delta: 'esp_delta_ota', running: source.v1 } : { board, channel, version, sequence }
    const a = await offerTo(t, sqlite, keyA, d, runs)
    const b = await offerTo(t, pgServer, keyB, d, runs)
    if (a.fields?.delta) deltas++
    t.same(b, a, `${d} (${channel}, runs ${version}): the same answer`)
    if (a.fields) offered.add(a.fields.version)
  }
  t.ok(deltas > 0, `devices on v1 in the rollout are offered the delta patch (${deltas})`)
  t.same([...offered].sort(), ['b1', 'v1', 'v2'], 'the rollout at 40 % offers v2 to some devices and keeps v1 for the others; beta gets b1')

  // A device token the SQLite server issued works on PostgreSQL: the token secret was copied.
  const proven = await pollWith(pgServer, source.enrolled.device, { version: 'v1', sequence: 1 }, source.enrolled.token)
  t.equal(proven.status, 200, JSON.stringify(proven.body))
  // A revoked device's token stays refused, and the batch's enrollment token and the allow-list
  // admit new devices at once, as they would have on SQLite.
  const stillRevoked = await pollWith(pgServer, source.revoked.device, { version: 'v1', sequence: 1 }, source.revoked.token)
  t.match(stillRevoked, { status: 401, body: { error: 'device_token_invalid' } }, "the revoked device's token is refused on PostgreSQL too")
  const byToken = await enroll(pgServer, deviceId(95, 0xc0), newDeviceKey(), { enrollment_token: source.enrollmentToken })
  t.match(byToken, { status: 200, body: { state: 'accepted' } }, 'the copied enrollment token admits a device')
  const byList = await enroll(pgServer, source.allowed, newDeviceKey())
  t.match(byList, { status: 200, body: { state: 'accepted' } }, 'the copied allow-list admits its device')
  const fleet = [await getJson(sqlite, '/v1/fleet/versions', source.operator), await getJson(pgServer, '/v1/fleet/versions', source.operator)]
  t.same(fleet[1].body, fleet[0].body, 'after the same polls, the same fleet counts')

  // Binaries come from PostgreSQL byte for byte (the delta patch's are checked by the copy's digest check).
  const releases = await getJson<{ releases: Array<{ sha256: string }> }>(sqlite, '/v1/releases', source.operator)
  for (const { sha256 } of releases.body.releases) {
    const res = await fetch(`${pgServer.url}/v1/firmware/${sha256}.bin`)
    t.equal(crypto.createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex'), sha256, `binary ${sha256.slice(0, 12)}… served from PostgreSQL`)
  }

  // v1's factory image, and what first flash answers about it: the same on both (URLs on each server's own address).
  const factory = await fetch(`${pgServer.url}/v1/factory/${sha256Of(source.factory)}.bin`)
  t.equal(factory.status, 200)
  t.ok(Buffer.from(await factory.arrayBuffer()).equals(source.factory), 'the factory image served from PostgreSQL byte for byte')
  for (const firstFlash of ['/v1/web-install/esp32cam/manifest.json?channel=stable', '/firmware.bin', '/firmware.json']) {
    const [a, b] = await Promise.all(
      [sqlite, pgServer].map(async (s) => {
        const res = await fetch(s.url + firstFlash)
        const body = Buffer.from(await res.arrayBuffer())
        return { status: res.status, sha256: sha256Of(Buffer.from(body.toString('latin1').replaceAll(s.url, ''), 'latin1')) }
      })
    )
    t.equal(a.status, 200, `${firstFlash} answers on SQLite`)
    t.same(b, a, `${firstFlash}: the same answer`)
  }

  // New rows continue after the copied ids: a token (tokens.id), a release (releases.id), audit entries.
  const token = await createToken(pgServer.dataDir, 'operator', 'after-copy')
  t.equal((await getJson(pgServer, '/v1/whoami', token)).status, 200)
  const next = await publishRelease(pgServer, { version: 'v3', sequence: 4 })
  t.ok(next.release.id > 4, `the next release id continues after the copied ones (${next.release.id})`)
  const paused = await call(pgServer, 'POST', '/v1/rollouts/esp32cam/stable/pause', source.operator, { reason: 'after copy' })
  t.equal(paused.status, 200, JSON.stringify(paused.body))
})

t.test('a copy made while the SQLite server takes check-ins of new devices is one consistent snapshot', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const source = await installation()
  const url = await pg.createDatabase()
  const server = await startServer(t, FLEET_ENV, { dataDir: source.dataDir })
  // Every device of the fleet, however many (a page of /v1/devices stops at 500).
  const devicesNow = async () => (await getJson<{ total: number }>(server, '/v1/fleet/versions', source.operator)).body.total
  const before = await devicesNow()
  let stop = false
  let n = 0
  const polling = (async () => {
    while (!stop) await pollManifest(server, { device: deviceId(++n, 0xd0), version: 'v0', sequence: 0 })
  })()
  const copied = await copyInto(source.dataDir, url, ['--json'])
  stop = true
  await polling
  t.equal(copied.code, 0, copied.stderr)
  const summary = JSON.parse(copied.stdout) as { tables: Record<string, number> }
  const after = await devicesNow()
  t.ok(n > 0, `${n} new devices checked in meanwhile`)
  t.ok(summary.tables.devices >= before && summary.tables.devices <= after, `the copy holds ${summary.tables.devices} devices: ${before} before it, ${after} after`)
  t.same(await pg.query('SELECT count(*)::int AS n FROM devices', [], databaseName(url)), [{ n: summary.tables.devices }])
  await server.close()
})

t.test('a target that holds data is refused: exit 1 with target_not_empty, and nothing is written', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const source = await installation()
  const url = await pg.createDatabase()
  // An instance ran on it and an operator made a token: the database is in use.
  const other = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url })
  await createToken(other.dataDir, 'operator', 'someone-else')
  await other.close()
  const before = await rowCounts(pg, url)

  const r = await copyInto(source.dataDir, url, ['--json'])
  t.equal(r.code, 1, r.stderr)
  t.match(JSON.parse(r.stdout), { error: 'target_not_empty', message: /rows in tokens.*nothing was written.*new empty database/ })
  t.match(r.stderr, /^ota-gate db copy: the PostgreSQL database already holds ota-gate data .*\(target_not_empty\)\n$/)
  t.same(await rowCounts(pg, url), before, 'every table as it was, artifact_blobs included')
})

t.test('a copy killed midway leaves nothing that blocks the next run, which copies everything; a third run is refused', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const source = await installation()
  const url = await pg.createDatabase()
  // The copy migrates the target first; done here so that a session can hold device_history in SHARE
  // mode: the copy's transaction reads through it and waits at its first insert there, with the
  // tables before it (releases, devices…) already written in that transaction.
  const migrator = openPostgres({ url, pool: 1 })
  await migratePostgres(migrator)
  await migrator.end()
  const holder = new Client({ connectionString: url })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('BEGIN')
  await holder.query('LOCK TABLE device_history IN SHARE MODE')

  const run = spawnBuiltCli(['db', 'copy', '--to', url], { OTA_DATA_DIR: source.dataDir })
  // Asked from a connection of its own: inside the holder's transaction, pg_stat_activity would not change.
  const waiting = async () =>
    (await pg.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"device_history\"%'", [], databaseName(url))).length === 1
  t.ok(await until(waiting, 60_000), 'the copy waits at device_history, its transaction half written')
  run.child.kill('SIGKILL')
  t.equal((await run.done).signal, 'SIGKILL')
  await holder.query('ROLLBACK')

  const afterKill = await rowCounts(pg, url)
  t.ok(afterKill.artifact_blobs > 0, `binaries committed before the tables stay (${afterKill.artifact_blobs})`)
  const again = await copyInto(source.dataDir, url, ['--json'])
  t.equal(again.code, 0, again.stderr)
  const summary = JSON.parse(again.stdout) as { tables: Record<string, number>; artifacts: { count: number; written: number } }
  t.equal(summary.artifacts.written, summary.artifacts.count - afterKill.artifact_blobs, 'the second run writes only the binaries the first did not')
  t.ok(summary.tables.devices > DEVICES, `the devices copied (${summary.tables.devices})`)
  const counts = await rowCounts(pg, url)
  for (const [table, n] of Object.entries(summary.tables)) t.equal(counts[table], n, `${table}: ${n} rows, once`)

  const third = await copyInto(source.dataDir, url)
  t.equal(third.code, 1)
  t.match(third.stderr, /\(target_not_empty\)/)
})

t.test('usage errors exit 2; a folder without a database is refused with source_missing', async (t) => {
  const missing = await runBuiltCli(['db', 'copy'], { OTA_DATA_DIR: tempDir(t) })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--to postgres:\/\/… is required.*\nusage: ota-gate db copy --to postgres:\/\//s)
  const wrong = await cli(['db', 'copy', '--to', 'mysql://secret-host/ota'], { OTA_DATA_DIR: tempDir(t) })
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /--to \(hidden\): must be a postgres:\/\/ or postgresql:\/\/ URL/)
  t.notMatch(wrong.stderr, /secret-host/, 'the URL, which may hold a password, is not echoed')
  const flag = await cli(['db', 'copy', '--too', 'postgres://h/db'], {})
  t.equal(flag.code, 2)
  t.match(flag.stderr, /did you mean --to\?/)
  const empty = await cli(['db', 'copy', '--to', 'postgres://127.0.0.1:1/ota', '--json'], { OTA_DATA_DIR: tempDir(t) })
  t.equal(empty.code, 1)
  t.match(JSON.parse(empty.stdout), { error: 'source_missing', message: /set OTA_DATA_DIR/ })
})
