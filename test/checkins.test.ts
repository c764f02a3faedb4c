import t from 'tap'
import { PUBLISHED } from './support/release-rows'
import { deviceId, poll } from './support/devices'
import { publishRelease } from './support/publish'
import { openRepositories } from './support/repositories'
import { buildApp, createToken } from './support/server'
import { getJson } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'
import { eachBackend } from './support/backends'

// Check-ins at the repository: the device row follows every poll, history only what it runs.

// No timer flush during a test that uses it: only what the repository does on its own is seen.
const NO_TIMED_FLUSH = { lastSeenFlushMs: 3_600_000 }

const base = {
  device: 'a0b1c2d3e4f5',
  board: 'esp32cam',
  channel: 'stable',
  address: '192.0.2.7',
  userAgent: 'hivehive-ota/1.0',
  offeredReleaseId: null,
}

eachBackend(t, 'every poll updates the device row; history grows only when what it runs changes', async (t, backend) => {
  const { sql, repos } = await backend.open(t)
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, freeSpace: 1966080, at: 1000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, address: '192.0.2.8', at: 2000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, note: 'too little free space', at: 3000 })
  let row = (await sql('SELECT * FROM devices WHERE device = ?', base.device))[0]
  t.match(row, { first_seen: 1000, last_seen: 3000, polls: 3, address: '192.0.2.7', free_space: 1966080, note: 'too little free space' })
  t.equal(
    (await sql<{ n: number }>('SELECT count(*) AS n FROM device_history WHERE device = ?', base.device))[0].n,
    1,
    'a new device has one history row; unchanged polls add none'
  )

  await repos.devices.checkIn({ ...base, version: 'leafcutter', sequence: 4, at: 4000 })
  await repos.devices.checkIn({ ...base, version: 'leafcutter', sequence: 4, at: 5000 })
  await repos.devices.checkIn({ ...base, channel: 'beta', version: 'leafcutter', sequence: 4, at: 6000 })
  row = (await sql('SELECT * FROM devices WHERE device = ?', base.device))[0]
  t.match(row, { first_seen: 1000, last_seen: 6000, polls: 6, version: 'leafcutter', sequence: 4, channel: 'beta', note: null })
  t.equal(row.free_space, 1966080, 'free space is kept when a poll does not send it')
  const history = (await sql('SELECT channel, version, sequence, at FROM device_history WHERE device = ? ORDER BY id', base.device))
  t.same(history, [
    { channel: 'stable', version: 'mason', sequence: 3, at: 1000 },
    { channel: 'stable', version: 'leafcutter', sequence: 4, at: 4000 },
    { channel: 'beta', version: 'leafcutter', sequence: 4, at: 6000 },
  ])
  t.same((await sql('SELECT board, channel, version, sequence, devices FROM fleet_versions')), [
    { board: 'esp32cam', channel: 'beta', version: 'leafcutter', sequence: 4, devices: 1 },
  ], 'the version counts follow the device')
})

eachBackend(t, 'a binary delivered in an answer, then a later poll on the old version: a silent rollback', async (t, backend) => {
  const { sql, repos } = await backend.open(t)
  const release = await repos.releases.insert({
    board: 'esp32cam', channel: 'stable', version: 'leafcutter', sequence: 2, sha256: null, size: null, md5: null,
    tag: 'prod-leafcutter', commit_sha: 'a'.repeat(40), signature: null, key_id: null, provenance: 'imported', chip: null,
    project_name: null, app_version: null, idf_version: null, secure_version: null, build_date: null, build_time: null,
    notes: null, published_by: null,
  }, PUBLISHED)
  const state = () =>
    sql('SELECT offered_at, downloaded_at, booted_at, rolled_back_at, rollback_silent FROM device_releases WHERE device = ?', base.device)
  const arduino = { ...base, version: 'mason', sequence: 1, offeredReleaseId: release.id }
  await repos.devices.checkIn({ ...arduino, delivered: true, at: 1000 })
  t.same(await state(), [{ offered_at: 1000, downloaded_at: 1000, booted_at: null, rolled_back_at: null, rollback_silent: 0 }], 'the delivering poll itself is no rollback')
  await repos.devices.checkIn({ ...arduino, delivered: true, at: 2000 })
  t.same(await state(), [{ offered_at: 1000, downloaded_at: 1000, booted_at: null, rolled_back_at: 2000, rollback_silent: 1 }], 'the next poll on mason is')

  const other = { ...base, device: 'a0b1c2d3e4f6', version: 'mason', sequence: 1, offeredReleaseId: release.id }
  await repos.devices.checkIn({ ...other, delivered: true, at: 1000 })
  await repos.devices.checkIn({ ...other, version: 'leafcutter', sequence: 2, offeredReleaseId: null, at: 2000 })
  await repos.devices.checkIn({ ...other, version: 'leafcutter', sequence: 2, offeredReleaseId: null, at: 3000 })
  t.same(
    (await sql('SELECT booted_at, rolled_back_at FROM device_releases WHERE device = ?', other.device)),
    [{ booted_at: 2000, rolled_back_at: null }],
    'a poll on the new version is success, and stays so'
  )
  const small = { ...base, device: 'a0b1c2d3e4f7', version: 'mason', sequence: 1, offeredReleaseId: release.id }
  await sql('UPDATE releases SET size = 1500000 WHERE id = ?', release.id)
  await repos.devices.checkIn({ ...small, freeSpace: 1310720, delivered: true, at: 1000 })
  await repos.devices.checkIn({ ...small, freeSpace: 1310720, delivered: true, at: 2000 })
  t.same(
    (await sql('SELECT offered_at, downloaded_at, rolled_back_at FROM device_releases WHERE device = ?', small.device)),
    [{ offered_at: 1000, downloaded_at: null, rolled_back_at: null }],
    'a binary larger than the free OTA space is refused before download: neither downloaded nor rolled back'
  )
  t.same(await repos.deviceQueries.adoption(release, false), {
    offered: 3, downloading: 0, downloaded: 2, installed: 0, booted: 1, failed: 0, rolled_back: 1, silent_rollbacks: 1, running: 1,
  })
})

eachBackend(t, 'concurrent check-ins (sharing commits): one that fails is rejected alone, every other one is stored', async (t, backend) => {
  const { sql, repos } = await backend.open(t)
  const many = Array.from({ length: 300 }, (_, i) =>
    repos.devices.checkIn({ ...base, device: deviceId(i, 0xd0), version: 'mason', sequence: 3, at: 1000 + i })
  )
  // No release 999999: the foreign key refuses this one.
  const bad = repos.devices.checkIn({ ...base, device: deviceId(1000, 0xd0), version: 'mason', sequence: 3, offeredReleaseId: 999999 })
  const results = await Promise.allSettled([...many, bad])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 300)
  t.match(results[300], { status: 'rejected', reason: { code: backend.name === 'sqlite' ? 'SQLITE_CONSTRAINT_FOREIGNKEY' : '23503' } })
  t.equal((await sql<{ n: number }>('SELECT count(*) AS n FROM devices'))[0].n, 300, 'every good one is stored, the bad one not at all')
  t.equal((await sql<{ n: number }>('SELECT count(*) AS n FROM device_history'))[0].n, 300)
  t.same((await sql('SELECT devices FROM fleet_versions')), [{ devices: 300 }])
})

t.test('a poll that only proves the device alive waits in memory; every read of last_seen and every state change writes it first', async (t) => {
  const { db, repos } = openRepositories(t, undefined, NO_TIMED_FLUSH)
  const row = () => db.prepare('SELECT last_seen, polls, address, version FROM devices WHERE device = ?').get(base.device)
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 1000 })
  t.same(row(), { last_seen: 1000, polls: 1, address: '192.0.2.7', version: 'mason' }, 'a new device is written before the answer')
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, address: '192.0.2.9', at: 2000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, address: '192.0.2.9', at: 3000 })
  t.same(row(), { last_seen: 1000, polls: 1, address: '192.0.2.7', version: 'mason' }, 'refreshes wait in memory')
  t.equal(repos.devices.refreshesWaiting, 1, 'one entry per device, however often it polls')

  const pairs = [{ board: 'esp32cam', channel: 'stable' }]
  t.same(await repos.deviceQueries.countNotSeenSince(pairs, 2500), [{ ...pairs[0], stale: 0 }], 'the stale count sees the waiting refresh')
  t.same(row(), { last_seen: 3000, polls: 3, address: '192.0.2.9', version: 'mason' }, 'written by that read, polls counted')
  t.equal(repos.devices.refreshesWaiting, 0)

  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 4000 })
  t.match(await repos.deviceQueries.list({ seenSince: 3500 }, null, 50), [{ device: base.device, last_seen: 4000 }], 'a page of devices too')
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 5000 })
  t.match(await repos.deviceQueries.get(base.device), { last_seen: 5000, polls: 5 }, 'and the device page')

  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 6000 })
  await repos.devices.checkIn({ ...base, version: 'leafcutter', sequence: 4, at: 7000 })
  t.same(row(), { last_seen: 7000, polls: 7, address: '192.0.2.7', version: 'leafcutter' }, 'a new version is written before the answer, after the refresh that waited')
  t.equal(repos.devices.refreshesWaiting, 0)

  await repos.devices.checkIn({ ...base, version: 'leafcutter', sequence: 4, at: 8000 })
  t.equal(repos.devices.refreshesWaiting, 1)
  repos.devices.close()
  t.same(row(), { last_seen: 8000, polls: 8, address: '192.0.2.7', version: 'leafcutter' }, 'closing writes what waits')
})

t.test('a flush that fails keeps the refreshes for the next one and tells its listeners', async (t) => {
  const { db, repos } = openRepositories(t, undefined, NO_TIMED_FLUSH)
  const failures: number[] = []
  repos.devices.onRefreshFailure((_err, waiting) => failures.push(waiting))
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 1000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 2000 })
  db.pragma('query_only = 1')
  t.equal(repos.devices.flushRefreshes(), false, 'the database refuses the write')
  t.same(failures, [1])
  t.equal(repos.devices.refreshesWaiting, 1, 'kept')
  db.pragma('query_only = 0')
  t.equal(repos.devices.flushRefreshes(), true)
  t.match(db.prepare('SELECT last_seen, polls FROM devices WHERE device = ?').get(base.device), { last_seen: 2000, polls: 2 })
})

eachBackend(t, 'a poll that only proves the device alive is in the database once flushed; on PostgreSQL nothing waits at all', async (t, backend) => {
  const { sql, repos } = await backend.open(t, undefined, NO_TIMED_FLUSH)
  const row = async () => (await sql('SELECT last_seen, polls, address FROM devices WHERE device = ?', base.device))[0]
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, at: 1000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, address: '192.0.2.9', at: 2000 })
  if (backend.name === 'postgres') {
    t.equal(repos.devices.refreshesWaiting, 0, 'committed with the check-ins of its batch, before the answer')
    t.same(await row(), { last_seen: 2000, polls: 2, address: '192.0.2.9' })
  } else {
    t.equal(repos.devices.refreshesWaiting, 1, 'SQLite holds it in memory')
  }
  t.equal(repos.devices.flushRefreshes(), true)
  t.same(await row(), { last_seen: 2000, polls: 2, address: '192.0.2.9' }, 'written once flushed')
  t.equal(repos.devices.close(), true)
})

eachBackend(t, 'state changes on an unchanged version are written before the answer: standing, offer, note, a silent rollback after a report', async (t, backend) => {
  const { sql, repos } = await backend.open(t, undefined, NO_TIMED_FLUSH)
  const release = await repos.releases.insert({
    board: 'esp32cam', channel: 'stable', version: 'leafcutter', sequence: 2, sha256: null, size: null, md5: null,
    tag: 'prod-leafcutter', commit_sha: 'b'.repeat(40), signature: null, key_id: null, provenance: 'imported', chip: null,
    project_name: null, app_version: null, idf_version: null, secure_version: null, build_date: null, build_time: null,
    notes: null, published_by: null,
  }, PUBLISHED)
  const row = async () => (await sql('SELECT last_seen, last_offered, note FROM devices WHERE device = ?', base.device))[0]
  const mason = { ...base, version: 'mason', sequence: 1 }
  await repos.devices.checkIn({ ...mason, at: 1000 })
  await repos.devices.checkIn({ ...mason, offeredReleaseId: release.id, at: 2000 })
  t.same(await row(), { last_seen: 2000, last_offered: release.id, note: null }, 'the first offer of a release')
  await repos.devices.checkIn({ ...mason, offeredReleaseId: release.id, note: 'too little free space', at: 3000 })
  t.same(await row(), { last_seen: 3000, last_offered: release.id, note: 'too little free space' }, 'a new note')
  t.equal(repos.devices.refreshesWaiting, 0)

  t.ok(await repos.devices.report({ device: base.device, status: 'downloaded', version: 'leafcutter', sequence: 2, detail: null, at: 3500 }))
  await repos.devices.checkIn({ ...mason, offeredReleaseId: release.id, note: 'too little free space', at: 4000 })
  t.same(
    await sql('SELECT rolled_back_at, rollback_silent FROM device_releases WHERE device = ?', base.device),
    [{ rolled_back_at: 4000, rollback_silent: 1 }],
    'back on mason after downloading leafcutter: a silent rollback, although the version did not change'
  )
  t.equal(repos.devices.refreshesWaiting, 0)
})

eachBackend(t, 'legacy polls are counted per address and user agent', async (t, backend) => {
  const { sql, repos } = await backend.open(t)
  await repos.devices.recordLegacyPoll('192.0.2.1', 'hivehive-ota/1.0')
  await repos.devices.recordLegacyPoll('192.0.2.1', 'hivehive-ota/1.0')
  await repos.devices.recordLegacyPoll('192.0.2.2', 'hivehive-ota/1.0')
  t.same(
    (await sql('SELECT address, polls FROM legacy_clients ORDER BY address')),
    [
      { address: '192.0.2.1', polls: 2 },
      { address: '192.0.2.2', polls: 1 },
    ]
  )
})

interface DeviceDetail {
  device: string
  version: string
  sequence: number
  polls: number
  first_seen: string
  last_seen: string
  user_agent: string
  offered_version: string | null
  history: Array<{ version: string; sequence: number }>
}

t.test('through the API: each manifest poll updates the device, history shows only version changes', async (t) => {
  const server = await buildApp(t, FLEET_NO_DELTAS_ENV)
  await publishRelease(server, { version: 'mason', sequence: 1 })
  await publishRelease(server, { version: 'leafcutter', sequence: 2 })
  const token = await createToken(server.dataDir, 'operator')
  const device = deviceId(1)
  for (const [version, sequence] of [['mason', 1], ['mason', 1], ['mason', 1], ['leafcutter', 2], ['leafcutter', 2]] as const) {
    t.equal(await poll(server, { device, version, sequence }), 200)
  }
  const { status, body } = await getJson<DeviceDetail>(server, `/v1/devices/${device}`, token)
  t.equal(status, 200)
  t.match(body, { device, version: 'leafcutter', sequence: 2, polls: 5, user_agent: 'sim-device/1.0', offered_version: null })
  t.ok(body.last_seen > body.first_seen, 'last_seen moves, first_seen stays')
  t.same(
    body.history.map((h) => [h.version, h.sequence]),
    [['leafcutter', 2], ['mason', 1]],
    'two versions, two history rows, newest first'
  )
})
