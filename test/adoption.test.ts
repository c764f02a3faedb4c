import t from 'tap'
import { COUNTED_BY, FIELD_FLEET_LABEL } from '../src/schemas/fleet'
import { deviceId, poll, report } from './support/devices'
import { publishRelease } from './support/publish'
import { createToken, startServer, type RunningServer } from './support/server'
import { getJson } from './support/http'
import { UNPROVEN_FLEET_NO_DELTAS_ENV } from './support/env'

// The truth about updates: success is a device seen running the release, a device back on its old
// version after taking one has rolled back whether it says so or not, and adoption counts each
// device once per state it reached.

interface UpdateState {
  version: string
  state: string
  offered_at: string | null
  installed_at: string | null
  booted_at: string | null
  rolled_back_at: string | null
  rollback_silent: boolean
  from_version: string | null
}
interface DeviceDetail {
  device: string
  version: string
  updates: UpdateState[]
  reports: Array<{ status: string; version: string; sequence: number; detail: string | null; at: string }>
  history: Array<{ version: string }>
}

async function fleetWithTwoReleases(t: Parameters<typeof startServer>[0]) {
  const server = await startServer(t, UNPROVEN_FLEET_NO_DELTAS_ENV)
  await publishRelease(server, { version: 'mason', sequence: 1 })
  await publishRelease(server, { version: 'leafcutter', sequence: 2 })
  const token = await createToken(server.dataDir, 'operator')
  return { server, token }
}

const OLD = { version: 'mason', sequence: 1 }
const NEW = { version: 'leafcutter', sequence: 2 }

async function say(server: RunningServer, device: string, status: string, release = NEW, detail?: string) {
  const r = await report(server, device, { status, ...release, ...(detail === undefined ? {} : { detail }) })
  if (r.status !== 202) throw new Error(`report ${status} answered ${r.status}: ${JSON.stringify(r.body)}`)
}

t.test('installed, then a poll on the old version: a silent rollback in the device view and in the adoption', async (t) => {
  const { server, token } = await fleetWithTwoReleases(t)
  const device = deviceId(1)
  t.equal(await poll(server, { device, ...OLD }), 200, 'the manifest offers leafcutter')
  await say(server, device, 'downloading')
  await say(server, device, 'installed')

  let view = (await getJson<DeviceDetail>(server, `/v1/devices/${device}`, token)).body
  t.match(view.updates[0], { version: 'leafcutter', state: 'installed', booted_at: null, rolled_back_at: null }, 'installed alone is not success')

  t.equal(await poll(server, { device, ...OLD }), 200, 'three bad boots later it polls on mason again')
  view = (await getJson<DeviceDetail>(server, `/v1/devices/${device}`, token)).body
  t.match(view.updates[0], { version: 'leafcutter', state: 'rolled_back', rollback_silent: true, from_version: 'mason', booted_at: null })
  t.type(view.updates[0].rolled_back_at, 'string')

  const adoption = await getJson(server, '/v1/releases/esp32cam/leafcutter/adoption', token)
  t.equal(adoption.status, 200)
  t.match(adoption.body, { offered: 1, downloading: 1, installed: 1, booted: 0, rolled_back: 1, silent_rollbacks: 1, running: 0 })

  // Saying so afterwards makes it a reported rollback; it is still counted once.
  await say(server, device, 'rolled_back', NEW, 'boot loop: watchdog')
  view = (await getJson<DeviceDetail>(server, `/v1/devices/${device}`, token)).body
  t.match(view.updates[0], { state: 'rolled_back', rollback_silent: false })
  t.match((await getJson(server, '/v1/releases/esp32cam/leafcutter/adoption', token)).body, { rolled_back: 1, silent_rollbacks: 0 })
})

t.test('the poll that delivers nothing new is not a rollback; a device only offered is not either', async (t) => {
  const { server, token } = await fleetWithTwoReleases(t)
  const device = deviceId(2)
  for (let i = 0; i < 3; i++) t.equal(await poll(server, { device, ...OLD }), 200)
  const view = (await getJson<DeviceDetail>(server, `/v1/devices/${device}`, token)).body
  t.match(view.updates, [{ version: 'leafcutter', state: 'offered', rolled_back_at: null }])
  t.equal(view.history.length, 1, 'three polls on one version: one history row')
})

t.test('adoption counts match what the simulated devices did', async (t) => {
  const { server, token } = await fleetWithTwoReleases(t)
  const [a, b, c, d, e, f, g] = [1, 2, 3, 4, 5, 6, 7].map((n) => deviceId(n, 0xb0))
  for (const dev of [a, b, c, d, e, f]) t.equal(await poll(server, { device: dev, ...OLD }), 200)
  // a: takes it, installs, silently comes back on mason
  await say(server, a, 'downloading')
  await say(server, a, 'downloaded')
  await say(server, a, 'installed')
  await poll(server, { device: a, ...OLD })
  // b: the whole way, says booted, then polls on leafcutter
  for (const s of ['downloading', 'downloaded', 'installed', 'booted']) await say(server, b, s)
  await poll(server, { device: b, ...NEW })
  // c: says installed and is not heard from again
  await say(server, c, 'installed')
  // d: says nothing, polls on leafcutter: success by poll
  await poll(server, { device: d, ...NEW })
  // e: download fails
  await say(server, e, 'downloading')
  await say(server, e, 'failed', NEW, 'md5 mismatch')
  // f: downloaded, then reports its rollback
  await say(server, f, 'downloaded')
  await say(server, f, 'rolled_back')
  // g: already runs leafcutter when first seen: running, never offered
  await poll(server, { device: g, ...NEW })

  const { status, body } = await getJson(server, '/v1/releases/esp32cam/leafcutter/adoption', token)
  t.equal(status, 200)
  t.same(body, {
    board: 'esp32cam',
    channel: 'stable',
    version: 'leafcutter',
    sequence: 2,
    offered: 6,
    downloading: 3,
    downloaded: 3,
    installed: 3,
    booted: 2,
    failed: 1,
    rolled_back: 2,
    silent_rollbacks: 1,
    running: 3,
    delta: { devices: 0, bytes_saved: 0 },
    // The field fleet on its own, never in the device counts above: none of it polled here.
    field_fleet: { label: FIELD_FLEET_LABEL, counted_by: COUNTED_BY, downloaded_clients: 0, downloaded_addresses: 0 },
  })

  const byDevice = async (dev: string) => (await getJson<DeviceDetail>(server, `/v1/devices/${dev}`, token)).body.updates[0]
  t.match(await byDevice(c), { state: 'installed', booted_at: null }, 'installed alone is not success')
  t.match(await byDevice(d), { state: 'booted' }, 'polling on the new version is')
  t.match(await byDevice(b), { state: 'booted', rolled_back_at: null })
  t.same((await getJson<DeviceDetail>(server, `/v1/devices/${g}`, token)).body.updates, [], 'no offer to a device that runs the target')

  const old = await getJson(server, '/v1/releases/esp32cam/mason/adoption', token)
  t.match(old.body, { offered: 0, running: 4 }, 'a, c, e and f still run mason (as far as their last polls say)')
  const missing = await getJson(server, '/v1/releases/esp32cam/nosuch/adoption', token)
  t.equal(missing.status, 404)
  t.equal((missing.body as { error: string }).error, 'release_not_found')
})

t.test('reports: stored as said, newest first; bad ones answered 400 saying what is wrong', async (t) => {
  const { server, token } = await fleetWithTwoReleases(t)
  const device = deviceId(9)
  await poll(server, { device, ...OLD })

  const ok = await report(server, 'A0:00:00:00:00:09', { status: 'downloading', ...NEW })
  t.equal(ok.status, 202, 'a MAC with colons names the same device')
  t.same(ok.body, { accepted: true })
  t.equal((await report(server, device, { status: 'failed', version: 'handmade', sequence: 0, detail: 'ü'.repeat(512) })).status, 202,
    'sequence 0 (a hand-built binary) and exactly 1024 bytes of detail are accepted')

  const view = (await getJson<DeviceDetail>(server, `/v1/devices/${device}`, token)).body
  t.same(view.reports.map((r) => [r.status, r.version, r.sequence]), [
    ['failed', 'handmade', 0],
    ['downloading', 'leafcutter', 2],
  ])
  t.match(view.reports[0].at, /^\d{4}-\d\d-\d\dT/)

  const unknownStatus = await report(server, device, { status: 'exploded', ...NEW })
  t.equal(unknownStatus.status, 400)
  t.match(unknownStatus.body, { error: 'bad_request', message: /downloading, downloaded, installed, booted, failed, rolled_back/ })

  const long = await report(server, device, { status: 'failed', ...NEW, detail: 'é'.repeat(513) })
  t.equal(long.status, 400)
  t.match(long.body, { error: 'bad_request', message: /1026 bytes; the limit is 1024/ })

  for (const [body, field] of [
    [{ status: 'booted', sequence: 2 }, /version/],
    [{ status: 'booted', version: 'leafcutter', sequence: -1 }, /sequence/],
    [{ status: 'booted', version: 'bad version!', sequence: 2 }, /version/],
    [{ status: 'booted', ...NEW, extra: 1 }, /extra|additional/],
  ] as const) {
    const r = await report(server, device, body)
    t.equal(r.status, 400, JSON.stringify(body))
    t.match(r.body.message, field)
  }
  const badDevice = await fetch(`${server.url}/v1/devices/not-a-mac/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'booted', ...NEW }),
  })
  t.equal(badDevice.status, 400)

  const huge = await fetch(`${server.url}/v1/devices/${device}/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'failed', ...NEW, detail: 'x'.repeat(10_000) }),
  })
  t.equal(huge.status, 413, 'a body over 4 KiB is not read')

  const stranger = await report(server, deviceId(404), { status: 'booted', ...NEW })
  t.equal(stranger.status, 404, 'a device that never polled is told to poll first')
  t.match(stranger.body, { error: 'device_not_found', message: /poll \/v1\/manifest/ })
  const notThere = await getJson(server, `/v1/devices/${deviceId(404)}`, token)
  t.equal(notThere.status, 404, 'and no device row was made for it')
})
