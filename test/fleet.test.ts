import t from 'tap'
import { deviceId, inParallel, poll, type SimDevice } from './support/devices'
import { eachBackend, type BackendCase } from './support/backends'
import { publishRelease } from './support/publish'
import { TestClock } from './support/clock'
import { buildApp, createToken } from './support/server'
import { getJson, type Target } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'
import { openRepositories } from './support/repositories'

// The fleet view: a simulated fleet polls (through inject: the socket plays no part in what is
// counted), operators count and page through it.

const RUNS = [
  { version: 'mason', sequence: 3 },
  { version: 'carpenter', sequence: 4 },
  { version: 'leafcutter', sequence: 5 },
]

/** Device 2i of the starting fleet: odd numbers are left for devices that arrive later. */
function simulated(i: number): SimDevice {
  return { device: deviceId(2 * i), channel: i % 5 === 0 ? 'beta' : 'stable', ...RUNS[i % 3] }
}

interface VersionsBody {
  total: number
  stale: number
  versions: Array<{ board: string; channel: string; version: string; sequence: number; devices: number }>
}
interface DevicesBody {
  devices: Array<Record<string, unknown> & { device: string; version: string; channel: string }>
  next_cursor: string | null
}

/** A fleet server on a clock the test moves ("an hour passes" takes no time and no luck), on either backend. */
async function fleetServer(t: Parameters<typeof buildApp>[0] & Parameters<BackendCase['serverEnv']>[0], backend: BackendCase) {
  const clock = new TestClock()
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) }, { clock })
  await publishRelease(server, { version: 'leafcutter', sequence: 5 })
  await publishRelease(server, { version: 'bumble', sequence: 6, channel: 'beta' })
  const token = await createToken(server.dataDir, 'operator')
  return { server, token, clock }
}

/** Every device polls once, 20 at a time; resolves to the statuses other than 200. */
async function pollAll(server: Target, devices: SimDevice[]): Promise<number[]> {
  const statuses: number[] = []
  await inParallel(devices, 20, async (d) => statuses.push(await poll(server, d)))
  return statuses.filter((s) => s !== 200)
}

eachBackend(t, '500 devices on mixed versions: exact counts per version, stale counted with stale_after', async (t, backend) => {
  const { server, token, clock } = await fleetServer(t, backend)
  const fleet = Array.from({ length: 500 }, (_, i) => simulated(i))
  t.same(await pollAll(server, fleet), [], 'every poll answered 200')

  const expected = new Map<string, number>()
  for (const d of fleet) {
    const key = `${d.channel}/${d.version}/${d.sequence}`
    expected.set(key, (expected.get(key) ?? 0) + 1)
  }
  const all = await getJson<VersionsBody>(server, '/v1/fleet/versions', token)
  t.equal(all.status, 200)
  t.equal(all.body.total, 500)
  t.equal(all.body.stale, 0, 'nobody is stale under the default 26h')
  t.same(
    new Map(all.body.versions.map((v) => [`${v.channel}/${v.version}/${v.sequence}`, v.devices])),
    expected,
    'one row per channel and version, with exact counts'
  )
  t.same(
    all.body.versions.map((v) => [v.channel, v.sequence]),
    [['beta', 5], ['beta', 4], ['beta', 3], ['stable', 5], ['stable', 4], ['stable', 3]],
    'ordered by board, channel, newest sequence first'
  )
  const beta = await getJson<VersionsBody>(server, '/v1/fleet/versions?board=esp32cam&channel=beta', token)
  t.equal(beta.body.total, 100)
  t.ok(beta.body.versions.every((v) => v.channel === 'beta'))
  const none = await getJson<{ error: string; message: string }>(server, '/v1/fleet/versions?board=nosuch', token)
  t.equal(none.status, 404, 'a board that does not exist is not an empty fleet')
  t.match(none.body, { error: 'board_not_found', message: /board nosuch is not known/ })

  // An hour passes; 120 devices poll again (half of them on a newer version): the rest are stale
  // under stale_after=1h, and no longer under 2h.
  clock.advance(3_600_000 + 1)
  const again = fleet.slice(0, 120).map((d, i) => (i % 2 === 0 ? { ...d, version: 'leafcutter', sequence: 5 } : d))
  t.same(await pollAll(server, again), [], 'every poll answered 200')
  t.equal((await getJson<VersionsBody>(server, '/v1/fleet/versions?stale_after=2h', token)).body.stale, 0)
  const stale = await getJson<VersionsBody>(server, '/v1/fleet/versions?stale_after=1h', token)
  t.equal(stale.body.total, 500, 'a device that moves is counted once')
  t.equal(stale.body.stale, 380)
  const staleBeta = await getJson<VersionsBody>(server, '/v1/fleet/versions?channel=beta&stale_after=1h', token)
  t.equal(staleBeta.body.stale, 100 - again.filter((d) => d.channel === 'beta').length)
  const moved = again.filter((d, i) => i % 2 === 0 && fleet[i].version !== 'leafcutter').length
  const stableLeafcutter = stale.body.versions.find((v) => v.channel === 'stable' && v.version === 'leafcutter')
  t.equal(
    stableLeafcutter?.devices,
    (expected.get('stable/leafcutter/5') ?? 0) + again.filter((d, i) => i % 2 === 0 && d.channel === 'stable' && fleet[i].version !== 'leafcutter').length,
    `the ${moved} devices that moved are counted on their new version`
  )
})

eachBackend(t, 'paging with limit=37 while 100 new devices check in: every device of the start exactly once', async (t, backend) => {
  const { server, token } = await fleetServer(t, backend)
  const fleet = Array.from({ length: 300 }, (_, i) => simulated(i))
  t.same(await pollAll(server, fleet), [], 'every poll answered 200')

  const newcomers = Array.from({ length: 100 }, (_, i) => ({ ...simulated(i * 3), device: deviceId(6 * i + 1) }))
  const movers = fleet.slice(0, 100).map((d) => ({ ...d, version: 'leafcutter', sequence: 5 }))
  const seen: string[] = []
  let pages = 0
  const walk = async () => {
    let cursor: string | null = null
    do {
      const page: { status: number; body: DevicesBody } = await getJson<DevicesBody>(
        server,
        `/v1/devices?limit=37${cursor ? `&cursor=${cursor}` : ''}`,
        token
      )
      t.equal(page.status, 200)
      t.ok(page.body.devices.length <= 37)
      seen.push(...page.body.devices.map((d) => d.device))
      cursor = page.body.next_cursor
      pages++
      // Give the devices a turn between pages so that the walk and the polls interleave.
      await new Promise((r) => setImmediate(r))
    } while (cursor)
  }
  const [, failed] = await Promise.all([walk(), pollAll(server, [...newcomers, ...movers])])
  t.same(failed, [], 'every poll answered 200')

  t.equal(new Set(seen).size, seen.length, 'no device twice')
  const missing = fleet.map((d) => d.device).filter((d) => !seen.includes(d))
  t.same(missing, [], 'every device of the start is there')
  t.same([...seen].sort(), seen, 'in device order')
  t.ok(pages >= Math.ceil(300 / 37), `${pages} pages`)

  const last = await getJson<DevicesBody>(server, `/v1/devices?limit=500`, token)
  t.equal(last.body.devices.length, 400)
  t.equal(last.body.next_cursor, null, 'null on the last page')
  t.same(Object.keys(last.body.devices[0]).sort(), [
    'address', 'board', 'channel', 'device', 'first_seen', 'free_space', 'last_seen', 'note', 'offered_version',
    'polls', 'running_sha256', 'sequence', 'sketch_md5', 'user_agent', 'verified', 'version',
  ])
})

eachBackend(t, 'filters: board, channel, version, seen_within, not_seen_within; bad values are 400 naming the parameter', async (t, backend) => {
  const { server, token, clock } = await fleetServer(t, backend)
  const fleet = Array.from({ length: 60 }, (_, i) => simulated(i))
  t.same(await pollAll(server, fleet), [], 'every poll answered 200')
  clock.advance(3_600_000 + 1)
  const recent = fleet.slice(0, 10)
  t.same(await pollAll(server, recent), [], 'every poll answered 200')

  const list = async (query: string) => {
    const all: DevicesBody['devices'] = []
    let cursor: string | null = null
    do {
      const res: { status: number; body: DevicesBody } = await getJson<DevicesBody>(
        server,
        `/v1/devices?${query}&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        token
      )
      if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.body)}`)
      all.push(...res.body.devices)
      cursor = res.body.next_cursor
    } while (cursor)
    return all.map((d) => d.device)
  }
  const ids = (ds: SimDevice[]) => ds.map((d) => d.device).sort()

  t.same(await list('board=esp32cam&channel=stable&version=carpenter'), ids(fleet.filter((d) => d.channel === 'stable' && d.version === 'carpenter')))
  t.same(await list('channel=beta'), ids(fleet.filter((d) => d.channel === 'beta')))
  t.same(await list('version=mason'), ids(fleet.filter((d) => d.version === 'mason')))
  t.same(await list('seen_within=1h'), ids(recent))
  t.same(await list('not_seen_within=1h'), ids(fleet.slice(10)))
  t.same(await list('not_seen_within=1h&channel=beta&version=leafcutter'), ids(fleet.slice(10).filter((d) => d.channel === 'beta' && d.version === 'leafcutter')))
  t.same(await list('seen_within=7d&board=nosuch'), [])

  for (const [query, name] of [
    ['/v1/devices?seen_within=5x', 'seen_within'],
    ['/v1/devices?not_seen_within=0h', 'not_seen_within'],
    ['/v1/devices?seen_within=24', 'seen_within'],
    ['/v1/fleet/versions?stale_after=yesterday', 'stale_after'],
    ['/v1/devices?limit=501', 'limit'],
    ['/v1/devices?limit=0', 'limit'],
    ['/v1/devices?cursor=bm90IGEgZGV2aWNl', 'cursor'],
    ['/v1/devices?version=bad%20version', 'version'],
    ['/v1/devices?board=Not_A_Board', 'board'],
  ]) {
    const res = await getJson<{ error: string; message: string }>(server, query, token)
    t.equal(res.status, 400, query)
    t.equal(res.body.error, 'bad_request')
    t.match(res.body.message, name, `${query}: the message names ${name}`)
  }
  const notFound = await getJson<{ error: string }>(server, `/v1/devices/${deviceId(9999)}`, token)
  t.equal(notFound.status, 404)
  t.equal(notFound.body.error, 'device_not_found')
})

t.test('pages served by an index other than the id walk (a rare version, seen_within): the same devices, in id order, page by page', async (t) => {
  const { repos } = openRepositories(t)
  // 3,000 devices on two channels, seen over 3,000 seconds; 30 on a rare version spread over both channels.
  const checkIns = Array.from({ length: 3000 }, (_, i) => ({
    device: deviceId(i, 0xe0),
    board: 'esp32cam',
    channel: i % 2 === 0 ? 'stable' : 'beta',
    version: i % 100 === 7 ? 'rare' : 'common',
    sequence: 1,
    address: '192.0.2.1',
    userAgent: null,
    offeredReleaseId: null,
    at: 1_000_000 + i * 1000,
  }))
  for (const c of checkIns) await repos.devices.checkIn(c)
  const walk = async (filter: Parameters<typeof repos.deviceQueries.list>[0]) => {
    const seen: string[] = []
    for (let after: string | null = null; ; ) {
      const page = await repos.deviceQueries.list(filter, after, 7)
      seen.push(...page.map((d) => d.device))
      if (page.length < 7) return seen
      after = page[page.length - 1].device
    }
  }
  const expect = (keep: (c: (typeof checkIns)[number]) => boolean) => checkIns.filter(keep).map((c) => c.device).sort()
  t.same(await walk({ version: 'rare' }), expect((c) => c.version === 'rare'), 'a rare version on two channels')
  t.same(await walk({ version: 'rare', channel: 'beta' }), expect((c) => c.version === 'rare' && c.channel === 'beta'), 'on one channel')
  const since = 1_000_000 + 2980 * 1000
  t.same(await walk({ seenSince: since }), expect((c) => c.at >= since), 'seen within the last 20 seconds')
  t.same(await walk({ seenSince: since, channel: 'stable' }), expect((c) => c.at >= since && c.channel === 'stable'), 'on one channel')
  t.same(await walk({ notSeenSince: 1_000_000 + 10_000 }), expect((c) => c.at < 1_000_000 + 10_000), 'not seen since')
  t.same(await walk({ seenSince: since, board: 'nosuch' }), [], 'a board without devices')
})
