// `ota-gate backup` while the server runs and `ota-gate restore` into an empty data folder: the
// restored folder serves the same releases, devices, binaries and server key; refusals leave
// nothing behind.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { MANIFEST_FILE, type BackupManifest } from '../src/ops/backup'
import { publishRelease } from './support/publish'
import { getJson } from './support/http'
import { cli, createToken, startServer, tempDir, type RunningServer } from './support/server'

const DEVICES = ['0a0000000001', '0a0000000002', '0a0000000003', '0a0000000004']

function poll(server: RunningServer, device: string): Promise<Response> {
  return fetch(`${server.url}/v1/manifest?board=esp32cam&device=${device}&version=worker&sequence=1`)
}

/** The answer of an operator's GET, which must succeed. */
async function read<T>(server: RunningServer, url: string, token: string): Promise<T> {
  const res = await getJson<T>(server, url, token)
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body
}

interface DeviceView {
  device: string
  board: string
  channel: string
  version: string
  sequence: number
  first_seen: string
  last_seen: string
}

/** What a backup must keep of a device; last_seen moves with every poll. */
function settled(devices: DeviceView[]): Array<Omit<DeviceView, 'last_seen'>> {
  return devices.map(({ device, board, channel, version, sequence, first_seen }) => ({ device, board, channel, version, sequence, first_seen }))
}

function readManifest(dir: string): BackupManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as BackupManifest
}

/** Replaces a file of the backup by other bytes without writing through it (it may be a hard link to the live data). */
function replaceFile(file: string, bytes: Buffer): void {
  const temp = `${file}.tampered`
  fs.writeFileSync(temp, bytes)
  fs.renameSync(temp, file)
}

t.test('a backup taken while devices poll and a release is published restores into a folder that serves the same', async (t) => {
  const a = await startServer(t)
  const first = await publishRelease(a, { version: 'mason', sequence: 1 })
  const operator = await createToken(a.dataDir, 'operator')
  for (const device of DEVICES) {
    const res = await poll(a, device)
    t.equal(res.status, 200, `device ${device} checks in before the backup`)
    await res.arrayBuffer()
  }

  // Devices keep polling through the backup, and a second release is published meanwhile.
  let polling = true
  let polls = 0
  const pollers = DEVICES.map(async (device) => {
    while (polling) {
      const res = await poll(a, device)
      await res.arrayBuffer()
      polls++
    }
  })
  const out = path.join(tempDir(t), 'backup-1')
  const [backup, second] = await Promise.all([
    cli(['backup', '--out', out], { OTA_DATA_DIR: a.dataDir }),
    publishRelease(a, { version: 'mellifera', sequence: 2 }),
  ])
  polling = false
  await Promise.all(pollers)
  t.equal(backup.code, 0, `backup exits 0 ${backup.stderr}`)
  t.ok(polls > 0, `devices polled during the backup (${polls} polls)`)
  t.match(backup.stdout, /backed up .* to .*backup-1: database .*schema \d+.* artifacts? .* 1 key file$/m)

  const manifest = readManifest(out)
  t.equal(manifest.format, 'ota-gate-backup/1')
  t.ok(manifest.schema_version >= 2, 'the schema version is recorded')
  t.ok(Date.parse(manifest.created_at) > Date.now() - 60_000, 'the time is recorded')
  t.equal(manifest.tables.devices, DEVICES.length, 'row counts are recorded')
  t.ok(manifest.artifacts.count === 1 || manifest.artifacts.count === 2, `the artifacts of the snapshot (${manifest.artifacts.count})`)
  t.ok(manifest.artifacts.files.some((f) => f.sha256 === first.sha256), 'the first release binary is in the backup')
  t.same(
    manifest.keys.map((k) => k.path),
    ['keys/server-key.pem'],
    'the server key is in the backup'
  )
  t.equal(fs.statSync(path.join(out, 'keys', 'server-key.pem')).mode & 0o777, 0o600, 'the key stays private')
  t.notOk(fs.existsSync(path.join(out, 'ota-gate.db-wal')), 'the database copy is one self-contained file')

  // Restore into an empty folder, as docs/install.md does (created beforehand by the operator).
  const restored = tempDir(t)
  const restore = await cli(['restore', '--from', out], { OTA_DATA_DIR: restored })
  t.equal(restore.code, 0, `restore exits 0 ${restore.stderr}`)
  t.same(fs.readdirSync(restored).sort(), ['artifacts', 'keys', 'ota-gate.db'], 'no staging folder is left')
  const b = await startServer(t, {}, { dataDir: restored })

  // The operator's token travelled with the database.
  const releasesA = await read<{ releases: Array<{ version: string }> }>(a, '/v1/releases', operator)
  const releasesB = await read<{ releases: Array<{ version: string }> }>(b, '/v1/releases', operator)
  const inBackup = manifest.artifacts.count === 2 ? releasesA.releases : releasesA.releases.filter((r) => r.version !== second.release.version)
  t.same(releasesB.releases, inBackup, `the same releases (the snapshot ${manifest.artifacts.count === 2 ? 'has' : 'predates'} the concurrent one)`)

  const devicesA = await read<{ devices: DeviceView[] }>(a, '/v1/devices', operator)
  const devicesB = await read<{ devices: DeviceView[] }>(b, '/v1/devices', operator)
  t.equal(devicesB.devices.length, DEVICES.length)
  t.same(settled(devicesB.devices), settled(devicesA.devices), 'the same devices')

  const download = await fetch(`${b.url}/v1/firmware/${first.sha256}.bin`)
  const dl = Buffer.from(await download.arrayBuffer())
  t.equal(download.status, 200, dl.subarray(0, 200).toString())
  t.ok(dl.equals(first.image), 'the restored server sends the same bytes')

  const keysA = await read<{ server: { key_id: string } }>(a, '/v1/keys', operator)
  const keysB = await read<{ server: { key_id: string } }>(b, '/v1/keys', operator)
  t.equal(keysB.server.key_id, keysA.server.key_id, 'the same manifest signing key')
})

t.test('backup refuses a non-empty --out (left as it was) and a folder without a database', async (t) => {
  const server = await startServer(t)
  const out = tempDir(t)
  fs.writeFileSync(path.join(out, 'notes.txt'), 'keep me')
  const r = await cli(['backup', '--out', out], { OTA_DATA_DIR: server.dataDir })
  t.equal(r.code, 1)
  t.match(r.stderr, /is not empty \(notes\.txt\): give a new folder for each backup/)
  t.same(fs.readdirSync(out), ['notes.txt'])

  const usage = await cli(['backup'], { OTA_DATA_DIR: server.dataDir })
  t.equal(usage.code, 2, 'without --out it is a usage error')

  const mistyped = path.join(tempDir(t), 'no-such-data')
  const wrongFolder = await cli(['backup', '--out', path.join(tempDir(t), 'b')], { OTA_DATA_DIR: mistyped })
  t.equal(wrongFolder.code, 1)
  t.match(wrongFolder.stderr, /there is no ota-gate database in .*no-such-data: set OTA_DATA_DIR/)
  t.notOk(fs.existsSync(mistyped), 'a mistyped data folder is not created')
})

t.test('restore refuses a non-empty data folder and touches nothing', async (t) => {
  const server = await startServer(t)
  const out = path.join(tempDir(t), 'backup')
  t.equal((await cli(['backup', '--out', out], { OTA_DATA_DIR: server.dataDir })).code, 0)

  const target = tempDir(t)
  fs.writeFileSync(path.join(target, 'ota-gate.db'), 'an older database')
  const r = await cli(['restore', '--from', out], { OTA_DATA_DIR: target })
  t.equal(r.code, 1)
  t.match(r.stderr, /data folder .* is not empty \(ota-gate\.db\): restore only into an empty folder/)
  t.same(fs.readdirSync(target), ['ota-gate.db'])
  t.equal(fs.readFileSync(path.join(target, 'ota-gate.db'), 'utf8'), 'an older database')
})

t.test('restore refuses a damaged backup and leaves no data folder behind', async (t) => {
  const server = await startServer(t)
  const { sha256 } = await publishRelease(server, { version: 'mason', sequence: 1 })
  const out = path.join(tempDir(t), 'backup')
  t.equal((await cli(['backup', '--out', out], { OTA_DATA_DIR: server.dataDir })).code, 0)
  const artifactFile = path.join(out, 'artifacts', sha256.slice(0, 2), `${sha256}.bin`)
  const original = fs.readFileSync(artifactFile)

  await t.test('a tampered artifact', async (t) => {
    const tampered = Buffer.from(original)
    tampered[tampered.length - 1] ^= 0xff
    replaceFile(artifactFile, tampered)
    t.teardown(() => replaceFile(artifactFile, original))
    const target = path.join(tempDir(t), 'data')
    const r = await cli(['restore', '--from', out], { OTA_DATA_DIR: target })
    t.equal(r.code, 1)
    t.match(r.stderr, new RegExp(`${sha256}\\.bin has changed since the backup was made`))
    t.notOk(fs.existsSync(target), 'no half-restored data folder')
    t.ok(fs.readFileSync(path.join(server.dataDir, 'artifacts', sha256.slice(0, 2), `${sha256}.bin`)).equals(original), 'the live artifact is untouched')
  })

  await t.test('a database that fails the integrity check, with a manifest made to match it', async (t) => {
    const dbFile = path.join(out, 'ota-gate.db')
    const good = fs.readFileSync(dbFile)
    const pageSize = good.readUInt16BE(16)
    const damaged = Buffer.from(good)
    // Garbage over the second page (a table's b-tree page), the header left intact.
    crypto.randomFillSync(damaged, pageSize, pageSize)
    replaceFile(dbFile, damaged)
    const manifestFile = path.join(out, MANIFEST_FILE)
    const manifestText = fs.readFileSync(manifestFile, 'utf8')
    const manifest = JSON.parse(manifestText) as BackupManifest
    manifest.database.sha256 = crypto.createHash('sha256').update(damaged).digest('hex')
    fs.writeFileSync(manifestFile, JSON.stringify(manifest))
    t.teardown(() => {
      replaceFile(dbFile, good)
      fs.writeFileSync(manifestFile, manifestText)
    })
    const target = tempDir(t)
    const r = await cli(['restore', '--from', out], { OTA_DATA_DIR: target })
    t.equal(r.code, 1)
    t.match(r.stderr, /integrity check|not a readable ota-gate database|cannot be opened/)
    t.same(fs.readdirSync(target), [], 'the empty data folder stays empty')
  })

  await t.test('a folder without a manifest (an unfinished backup)', async (t) => {
    const unfinished = tempDir(t)
    fs.copyFileSync(path.join(out, 'ota-gate.db'), path.join(unfinished, 'ota-gate.db'))
    const target = path.join(tempDir(t), 'data')
    const r = await cli(['restore', '--from', unfinished], { OTA_DATA_DIR: target })
    t.equal(r.code, 1)
    t.match(r.stderr, /is not a finished ota-gate backup: it has no backup-manifest\.json/)
    t.notOk(fs.existsSync(target))
  })

  await t.test('the untouched backup still restores', async (t) => {
    const target = path.join(tempDir(t), 'data')
    const r = await cli(['restore', '--from', out], { OTA_DATA_DIR: target })
    t.equal(r.code, 0, r.stderr)
    const restoredServer = await startServer(t, {}, { dataDir: target })
    const res = await fetch(`${restoredServer.url}/v1/firmware/${sha256}.bin`)
    t.ok(Buffer.from(await res.arrayBuffer()).equals(original))
  })
})
