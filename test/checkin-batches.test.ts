import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import type { CheckIn } from '../src/repositories/device-rows'
import { openBackend } from '../src/repositories/backend'
import { eachBackend, type TestDatabase } from './support/backends'
import { TestClock } from './support/clock'
import { postgres } from './support/postgres'
import { PUBLISHED, releaseRow, withArtifacts } from './support/release-rows'
import { tempDir } from './support/server'

// Check-ins that arrive together are committed together; on PostgreSQL a batch is written by a few
// multi-row statements. Whatever the batching, the rows are those the same check-ins leave one at a
// time, a duplicate device inside one batch included, and one bad check-in fails alone.

const device = (prefix: string, i: number) => `${prefix}${i.toString(16).padStart(12 - prefix.length, '0')}`

interface Fleet {
  r1: number
  r2: number
}

/** Two releases to offer (v1 and v2 of esp32cam/stable), and ten devices on v1, five of them handed v2 (Arduino 200). */
async function seed(db: TestDatabase): Promise<Fleet> {
  await withArtifacts(db.repos, 1, 2)
  const r1 = (await db.repos.releases.insert(releaseRow(1), PUBLISHED)).id
  const r2 = (await db.repos.releases.insert(releaseRow(2), PUBLISHED)).id
  for (let i = 0; i < 10; i++) {
    await db.repos.devices.checkIn({ ...onV1(device('e', i), 100 + i), offeredReleaseId: i < 5 ? r2 : null, delivered: i < 5 })
  }
  return { r1, r2 }
}

function onV1(id: string, at: number): CheckIn {
  return { device: id, board: 'esp32cam', channel: 'stable', version: 'v1', sequence: 1, address: '192.0.2.7', userAgent: 'ESP32-http-Update', offeredReleaseId: null, at }
}

/**
 * One burst: 200 new devices (offers, free space, delta patches, notes, unproven "verified" claims),
 * the seeded devices again (five back on the version they were handed v2 over: silent rollbacks; one
 * now on v2), and devices that check in two or three times within the burst.
 */
function burst({ r2 }: Fleet): CheckIn[] {
  const out: CheckIn[] = []
  for (let i = 0; i < 200; i++) {
    out.push({
      ...onV1(device('a', i), 1000 + i),
      address: `198.51.100.${i % 250}`,
      userAgent: i % 7 === 0 ? null : `hivehive-ota/${i}`,
      freeSpace: i % 3 === 0 ? (i % 2 ? 500 : 1_966_080) : undefined,
      sketchMd5: i % 5 === 0 ? 'b'.repeat(32) : undefined,
      offeredReleaseId: i % 2 === 0 ? r2 : null,
      note: i % 11 === 0 ? `note ${i} <b>'quoted'</b> "x" \\ {a,b}` : null,
      runningSha256: i % 4 === 0 ? i.toString(16).padStart(64, '0') : null,
      delta: i % 8 === 0 ? { base: 'c'.repeat(64), size: 300 + i } : null,
      verified: i % 6 === 0 ? true : undefined,
    })
  }
  for (let i = 0; i < 10; i++) out.push({ ...onV1(device('e', i), 2000 + i), ...(i === 9 ? { version: 'v2', sequence: 2 } : {}) })
  // Within the same burst: a0 again on v2 (it took the offer), a1 again on v1, a2 three times.
  out.push({ ...onV1(device('a', 0), 3000), version: 'v2', sequence: 2 })
  out.push({ ...onV1(device('a', 1), 3001), address: '203.0.113.1', freeSpace: 4096 })
  out.push({ ...onV1(device('a', 2), 3002), offeredReleaseId: r2 })
  out.push({ ...onV1(device('a', 2), 3003), offeredReleaseId: r2, delivered: true })
  return out
}

/** What the check-ins leave, in a stable order. */
async function rows(db: TestDatabase) {
  return {
    devices: await db.sql('SELECT * FROM devices ORDER BY device'),
    history: await db.sql('SELECT device, board, channel, version, sequence, at FROM device_history ORDER BY device, at, version'),
    releases: await db.sql('SELECT * FROM device_releases ORDER BY device, release_id'),
    versions: await db.sql('SELECT * FROM fleet_versions ORDER BY board, channel, version, sequence'),
  }
}

/** The releases each check-in found rolled back, as the setback listeners hear them, by device. */
function setbacks(db: TestDatabase): string[] {
  const heard: string[] = []
  db.repos.devices.onSetback(async (ids) => {
    heard.push(ids.join(','))
  })
  return heard
}

eachBackend(t, 'a burst of check-ins leaves the rows that the same check-ins leave one at a time', async (t, backend) => {
  const alone = await backend.open(t)
  const together = await backend.open(t)
  const fleet = await seed(alone)
  t.same(await seed(together), fleet)
  const heardAlone = setbacks(alone)
  const heardTogether = setbacks(together)

  const checkIns = burst(fleet)
  for (const c of checkIns) await alone.repos.devices.checkIn(c)
  const answers = await Promise.allSettled(checkIns.map((c) => together.repos.devices.checkIn(c)))
  t.same(answers.filter((a) => a.status === 'rejected'), [], 'every check-in of the burst is answered')

  const expected = await rows(alone)
  const got = await rows(together)
  t.equal(got.devices.length, 210, '200 new devices and the 10 seeded')
  t.same(got.devices, expected.devices, 'device rows')
  t.same(got.history, expected.history, 'history rows')
  t.same(got.releases, expected.releases, 'device release states')
  t.same(got.versions, expected.versions, 'version counts')
  t.same(heardTogether.sort(), heardAlone.sort(), 'the same silent rollbacks reported')
  t.same(heardTogether, Array(5).fill(String(fleet.r2)), 'five silent rollbacks of v2')

  // And by hand, the cases a batch could get wrong.
  const a0 = await together.sql<{ version: string; polls: number; first_seen: number; last_seen: number }>('SELECT * FROM devices WHERE device = ?', device('a', 0))
  t.match(a0, [{ version: 'v2', sequence: 2, polls: 2, first_seen: 1000, last_seen: 3000 }], 'a device twice in one burst: its later check-in wins')
  t.same(
    await together.sql('SELECT version, at FROM device_history WHERE device = ? ORDER BY at', device('a', 0)),
    [{ version: 'v1', at: 1000 }, { version: 'v2', at: 3000 }]
  )
  t.match(
    await together.sql('SELECT offered_at, booted_at, delta_base, delta_size FROM device_releases WHERE device = ?', device('a', 0)),
    [{ offered_at: 1000, booted_at: 3000, delta_base: 'c'.repeat(64), delta_size: 300 }],
    'offered with a delta patch in its first check-in, booted in its second'
  )
  t.match(await together.sql('SELECT * FROM devices WHERE device = ?', device('a', 1)), [
    { polls: 2, address: '203.0.113.1', free_space: 4096, user_agent: 'ESP32-http-Update', last_seen: 3001 },
  ])
  t.match(await together.sql('SELECT * FROM devices WHERE device = ?', device('a', 2)), [{ polls: 3, last_seen: 3003 }])
  t.match(
    await together.sql('SELECT offered_at, downloaded_at FROM device_releases WHERE device = ?', device('a', 2)),
    [{ offered_at: 1002, downloaded_at: 3003 }],
    'the third check-in of one burst delivered the binary'
  )
  t.match(await together.sql('SELECT * FROM devices WHERE device = ?', device('a', 0x21)), [
    { note: `note 33 <b>'quoted'</b> "x" \\ {a,b}`, user_agent: 'hivehive-ota/33', free_space: 500 },
  ])
})

eachBackend(t, 'check-ins sent over several turns, while earlier batches are still written, leave the rows the same check-ins leave one at a time', async (t, backend) => {
  const alone = await backend.open(t)
  const spread = await backend.open(t)
  const fleet = await seed(alone)
  await seed(spread)
  // A device's later check-ins early in the list, so that its earlier one is still being written.
  const checkIns = burst(fleet)
  const repeats = checkIns.slice(200)
  const order = [...checkIns.slice(0, 20), ...repeats, ...checkIns.slice(20, 200)]
  for (const c of order) await alone.repos.devices.checkIn(c)
  const answers: Array<Promise<void>> = []
  for (let i = 0; i < order.length; i += 8) {
    answers.push(...order.slice(i, i + 8).map((c) => spread.repos.devices.checkIn(c)))
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.same((await Promise.allSettled(answers)).filter((a) => a.status === 'rejected'), [], 'every check-in is answered')
  const expected = await rows(alone)
  const got = await rows(spread)
  t.same(got.devices, expected.devices, 'device rows')
  t.same(got.history, expected.history, 'history rows')
  t.same(got.releases, expected.releases, 'device release states')
  t.same(got.versions, expected.versions, 'version counts')
})

eachBackend(t, 'one bad check-in in a burst fails alone: the others are answered and written as sent', async (t, backend) => {
  const db = await backend.open(t)
  const fleet = await seed(db)
  const checkIns = burst(fleet).slice(0, 60)
  // Out of the range the database accepts (the routes refuse it before): the statement fails.
  checkIns[17] = { ...checkIns[17], sequence: 2 ** 33 }
  const answers = await Promise.allSettled(checkIns.map((c) => db.repos.devices.checkIn(c)))
  t.same(
    answers.flatMap((a, i) => (a.status === 'rejected' ? [i] : [])),
    [17],
    'only the bad check-in is refused'
  )
  const written = await db.sql<{ device: string; address: string; last_seen: number; version: string }>(
    "SELECT device, address, last_seen, version FROM devices WHERE device LIKE 'a%' ORDER BY device"
  )
  t.same(
    written,
    checkIns.filter((_, i) => i !== 17).map((c) => ({ device: c.device, address: c.address, last_seen: c.at, version: 'v1' })),
    'every other device is there with what it sent'
  )
  t.equal((await db.sql<{ n: number }>('SELECT count(*) AS n FROM device_history WHERE device = ?', device('a', 17)))[0].n, 0, 'nothing of the bad one')
})

eachBackend(t, 'a burst rolled back for one bad check-in puts back the refreshes it wrote: every poll is counted once', async (t, backend) => {
  const db = await backend.open(t)
  await seed(db)
  const steady = [5, 6, 7, 8, 9].map((i) => device('e', i))
  // Polls that only prove the devices alive: on SQLite they wait in memory for the next flush.
  for (const [i, id] of steady.entries()) await db.repos.devices.checkIn(onV1(id, 1500 + i))
  // The same devices on a new version, in one burst with a bad check-in: the burst's transaction
  // writes their waiting refreshes first, then rolls back whole when the bad one fails.
  const checkIns: CheckIn[] = [
    ...steady.map((id, i) => ({ ...onV1(id, 1600 + i), version: 'v2', sequence: 2, offeredReleaseId: null })),
    { ...onV1(device('b', 0), 1700), sequence: 2 ** 33 },
  ]
  const answers = await Promise.allSettled(checkIns.map((c) => db.repos.devices.checkIn(c)))
  t.same(answers.flatMap((a, i) => (a.status === 'rejected' ? [i] : [])), [5], 'only the bad check-in is refused')
  t.ok(db.repos.devices.flushRefreshes(), 'what waits is written')
  const rows = await db.sql<{ device: string; polls: number; version: string }>(
    "SELECT device, polls, version FROM devices WHERE device IN ('" + steady.join("','") + "') ORDER BY device"
  )
  t.same(
    rows,
    steady.map((id) => ({ device: id, polls: 3, version: 'v2' })),
    'each device counts its three polls (seed, refresh, new version) and runs v2'
  )
})

t.test('on PostgreSQL a burst of new devices is one statement with one multi-row INSERT, not one a device, and no transaction around it', async (t) => {
  const cluster = await postgres(t)
  if (!cluster) return
  const url = await cluster.createDatabase()
  await cluster.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET log_statement = 'all'`)
  const backend = await openBackend({ OTA_DATA_DIR: tempDir(t), OTA_DATABASE_URL: url, OTA_DATABASE_POOL: 4 }, new TestClock())
  t.teardown(() => backend.close())
  const log = path.join(cluster.dir, 'server.log')
  const from = fs.statSync(log).size
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => backend.repos.devices.checkIn(onV1(device('d', i), 1000 + i))))
  t.equal(answers.length, 300)
  t.equal(Number((await cluster.query<{ n: string }>('SELECT count(*) AS n FROM devices', [], new URL(url).pathname.slice(1)))[0].n), 300)
  const burst = fs.readFileSync(log, 'utf8').slice(from)
  t.equal(burst.match(/INSERT INTO devices\b/g)?.length, 1, '300 check-ins, one INSERT INTO devices')
  const statements = burst.match(/LOG: {2}(?:statement|execute [^:]*): /g) ?? []
  t.equal(statements.length, 2, 'the batch of new devices is one statement (one round trip), then the count')
})
