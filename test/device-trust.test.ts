import t from 'tap'
import { deviceId, inParallel, report } from './support/devices'
import { admitted, enroll, newDeviceKey, pollWith, reportWith } from './support/device-credentials'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { startServer, type RunningServer } from './support/server'
import { call, getJson } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'

// The attacks quoted at the top of issue 13, re-run against the default OTA_DEVICE_AUTH=optional:
// what a device says without its token never steers a rollout or blocks a release.

const RUNS_V1 = { version: 'v1', sequence: 1 }
const V2 = { version: 'v2', sequence: 2 }

async function rolloutState(server: RunningServer, ops: string): Promise<Record<string, unknown>> {
  const { body } = await call<{ channels: Array<{ current: Record<string, unknown> }> }>(server, 'GET', '/v1/rollouts/esp32cam?channel=stable', ops)
  return body.channels[0].current
}

t.test('100 failure reports from made-up devices do not halt a rollout; 5 from accepted devices do', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })

  // The attack: made-up ids poll (so that they are known), say they tried v2, then that it failed.
  const madeUp = Array.from({ length: 100 }, (_, i) => deviceId(i, 0xee))
  await inParallel(madeUp, 16, async (d) => t.equal((await offerFor(server, d, RUNS_V1)).version, 'v2'))
  for (const d of madeUp) {
    t.equal((await report(server, d, { status: 'downloading', ...V2 })).status, 202)
    t.equal((await report(server, d, { status: 'failed', ...V2, detail: 'made up' })).status, 202, 'answered like any report')
  }
  t.match(await rolloutState(server, ops), { state: 'active', halted_reason: null }, '100 unproven failures: still active')
  const adoption = await getJson(server, '/v1/releases/esp32cam/v2/adoption', ops)
  t.match(adoption.body, { offered: 0, downloading: 0, failed: 0 }, 'nor do they count in adoption')
  const device = await getJson<{ verified: boolean; reports: Array<{ verified: boolean }> }>(server, `/v1/devices/${madeUp[0]}`, ops)
  t.equal(device.body.verified, false, 'the device view says the device is unverified')
  t.ok(device.body.reports.every((r) => r.verified === false), 'and so are its reports')

  // Five enrolled, accepted devices with their tokens: the halt works as before.
  const fleet = await Promise.all(Array.from({ length: 5 }, (_, i) => admitted(server, ops, deviceId(i, 0xac))))
  for (const [i, d] of fleet.entries()) {
    const id = deviceId(i, 0xac)
    t.equal((await pollWith(server, id, RUNS_V1, d.token)).body.version, 'v2')
    t.equal((await reportWith(server, id, { status: 'downloading', ...V2 }, d.token)).status, 202)
  }
  for (const [i, d] of fleet.slice(0, 4).entries()) t.equal((await reportWith(server, deviceId(i, 0xac), { status: 'failed', ...V2 }, d.token)).status, 202)
  t.match(await rolloutState(server, ops), { state: 'active' }, '4 verified failures: under the count of 5')
  t.equal((await reportWith(server, deviceId(4, 0xac), { status: 'failed', ...V2 }, fleet[4].token)).status, 202)
  t.match(await rolloutState(server, ops), { state: 'halted', halt_failed: 5, halt_tried: 5 }, 'the fifth verified failure halts it, counting verified devices only')

  // After a resume, one more unproven failure does not halt it again.
  t.equal((await call(server, 'POST', '/v1/rollouts/esp32cam/stable/resume', ops, { reason: 'fixed' })).status, 200)
  const another = deviceId(200, 0xee)
  await offerFor(server, another, RUNS_V1)
  await report(server, another, { status: 'failed', ...V2 })
  t.match(await rolloutState(server, ops), { state: 'active' }, 'resumed, and one more unproven failure does not halt it')

  const versions = await getJson<{ total: number; verified: number; unverified: number; device_auth: string; versions: Array<Record<string, unknown>> }>(server, '/v1/fleet/versions', ops)
  t.match(versions.body, { total: 106, verified: 5, unverified: 101, device_auth: 'optional' }, 'the fleet view shows unverified devices apart')
  t.match(versions.body.versions.find((v) => v.version === 'v1'), { devices: 106, verified: 5, unverified: 101 })
})

t.test('a poll naming an unreleased codename blocks publishing it only when the device is verified', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'mason', sequence: 1 })
  t.equal((await pollWith(server, 'aabbccddee01', { version: 'drone', sequence: 1 })).status, 200)
  const drone = await publishRelease(server, { version: 'drone', sequence: 2 })
  t.equal(drone.release.version, 'drone', 'one unproven poll no longer blocks the name')

  const { token } = await admitted(server, ops, 'aabbccddee02')
  t.equal((await pollWith(server, 'aabbccddee02', { version: 'osmia', sequence: 1 }, token)).status, 200)
  await t.rejects(publishRelease(server, { version: 'osmia', sequence: 3 }), /409.*version_in_field.*1 device/, 'a verified device running it does')
})

t.test('an accepted device cannot be spoken for without its token', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })
  const device = 'aabbccddee10'
  const { token } = await admitted(server, ops, device)
  t.equal((await pollWith(server, device, RUNS_V1, token)).status, 200)

  // Without a token its manifest is still served (manifests are not secret), but not recorded.
  const spoofed = await pollWith(server, device, { version: 'forged', sequence: 7 })
  t.equal(spoofed.status, 200)
  const view = await getJson<{ version: string; verified: boolean; polls: number }>(server, `/v1/devices/${device}`, ops)
  t.match(view.body, { version: 'v1', verified: true, polls: 1 }, 'the unproven poll changed nothing')
  const r = await reportWith(server, device, { status: 'failed', ...V2 })
  t.equal(r.status, 401)
  t.equal(r.body.error, 'device_token_required')
  t.match(r.body.message, /device aabbccddee10 is enrolled/)

  // Another device's token does not speak for it either.
  const other = await admitted(server, ops, 'aabbccddee11')
  const wrong = await reportWith(server, device, { status: 'failed', ...V2 }, other.token)
  t.same([wrong.status, wrong.body.error], [401, 'device_token_invalid'])
  const forged = await pollWith(server, device, RUNS_V1, token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'))
  t.same([forged.status, forged.body.error], [401, 'device_token_invalid'], 'a token whose MAC does not check out is refused')
})

t.test("what was said in a device's name before it proved itself is dropped at its first verified check-in", async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })
  // Someone who guessed the MAC of a device of the next batch reports failures in its name.
  const device = 'aabbccddee20'
  await pollWith(server, device, RUNS_V1)
  await report(server, device, { status: 'failed', ...V2 })
  const { token } = await admitted(server, ops, device)
  t.equal((await pollWith(server, device, RUNS_V1, token)).status, 200)
  const view = await getJson<{ verified: boolean; updates: Array<Record<string, unknown>> }>(server, `/v1/devices/${device}`, ops)
  t.equal(view.body.verified, true)
  t.match(view.body.updates, [{ version: 'v2', state: 'offered', failed_at: null }], 'only the verified offer remains')
  t.match((await getJson(server, '/v1/releases/esp32cam/v2/adoption', ops)).body, { offered: 1, failed: 0 })
})

t.test('OTA_DEVICE_AUTH=required: 401 without a device token, except the field fleet\'s two paths', async (t) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_DEVICE_AUTH: 'required' })
  const ops = await operatorToken(server)
  const published = await publishRelease(server, { version: 'v1', sequence: 1 })
  const sha = published.release.sha256
  const device = 'aabbccddee30'

  for (const path of [
    `/v1/manifest?board=esp32cam&device=${device}&version=v0&sequence=1`,
    '/v1/manifest?board=esp32cam',
    `/v1/firmware/${sha}.bin`,
  ]) {
    const res = await fetch(`${server.url}${path}`)
    t.equal(res.status, 401, path)
    t.match(await res.json(), { error: 'device_token_required', message: /device credentials/ })
  }
  const arduino = await fetch(`${server.url}/v1/arduino/esp32cam`, { headers: { 'x-esp32-sta-mac': 'AA:BB:CC:DD:EE:30', 'x-esp32-version': 'v0' } })
  t.equal(arduino.status, 401)
  t.equal((await reportWith(server, device, { status: 'booted', ...RUNS_V1 })).status, 401)
  t.equal((await fetch(`${server.url}/v1/manifest?board=esp32cam`, { headers: { authorization: 'Bearer otg_nonsense' } })).status, 401, 'a token that is no one\'s is no way in')

  // The field fleet cannot authenticate: its two paths answer, polls counted per address.
  t.equal((await fetch(`${server.url}/firmware.json`)).status, 200)
  const bin = await fetch(`${server.url}/firmware.app.bin`)
  t.equal(bin.status, 200)
  await bin.arrayBuffer()
  t.equal((await fetch(`${server.url}/v1/keys`)).status, 200, 'public keys stay public')

  // An accepted device with its token gets all of it; an operator may look too.
  const { token } = await admitted(server, ops, device)
  const poll = await pollWith(server, device, { version: 'v0', sequence: 1 }, token)
  t.equal(poll.status, 200)
  const download = await fetch(`${server.url}/v1/firmware/${sha}.bin`, { headers: { authorization: `Bearer ${token}`, range: 'bytes=0-15' } })
  t.equal(download.status, 206)
  await download.arrayBuffer()
  t.equal((await reportWith(server, device, { status: 'downloading', ...RUNS_V1 }, token)).status, 202)
  t.equal((await fetch(`${server.url}/v1/manifest?board=esp32cam`, { headers: { authorization: `Bearer ${ops}` } })).status, 200)
  t.match((await getJson(server, `/v1/devices/${device}`, ops)).body, { verified: true, version: 'v0' })
})

t.test('OTA_DEVICE_AUTH=off: as before, every device counts and tokens are not looked at', async (t) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_DEVICE_AUTH: 'off' })
  await publishRelease(server, { version: 'v1', sequence: 1 })
  const res = await fetch(`${server.url}/v1/manifest?board=esp32cam&device=aabbccddee40&version=drone&sequence=1`, { headers: { authorization: 'Bearer otd_garbage' } })
  t.equal(res.status, 200, 'a device token is not even read')
  await t.rejects(publishRelease(server, { version: 'drone', sequence: 2 }), /409.*version_in_field/, 'an unproven device counts, as before')
})

t.test('a revoked device\'s token stops working on every instance sharing the database within seconds', async (t) => {
  const a = await startServer(t, FLEET_NO_DELTAS_ENV)
  const b = await startServer(t, FLEET_NO_DELTAS_ENV, { dataDir: a.dataDir })
  await publishRelease(a, { version: 'v1', sequence: 1 })
  const ops = await operatorToken(a)
  const device = 'aabbccddee50'
  const { key, token } = await admitted(a, ops, device)
  t.equal((await pollWith(b, device, RUNS_V1, token)).status, 200, 'a token made by one instance works on the other (shared secret)')

  const revoked = await call(a, 'POST', `/v1/devices/${device}/revoke`, ops, { reason: 'stolen' })
  t.match(revoked, { status: 200, body: { state: 'revoked', decided_by: 'ops-alice' } })
  t.equal((await pollWith(a, device, RUNS_V1, token)).status, 401, 'refused at once where it was revoked')
  // The other instance re-reads revocations at most every 5 s.
  const deadline = Date.now() + 15_000
  let status = 200
  while (status !== 401 && Date.now() < deadline) {
    status = (await pollWith(b, device, RUNS_V1, token)).status
    if (status !== 401) await new Promise((r) => setTimeout(r, 250))
  }
  t.equal(status, 401, 'refused by the other instance too')
  t.match((await getJson(a, `/v1/devices/${device}`, ops)).body, { verified: false }, 'what it said no longer counts')
  const again = await enroll(a, device, key)
  t.same([again.status, again.body.error], [403, 'device_revoked'], 'it cannot enroll the same key again')
  const { body } = await call<{ entries: Array<Record<string, unknown>> }>(a, 'GET', '/v1/audit', ops)
  t.match(body.entries[0], { actor: 'ops-alice', action: 'device_revoke', device, reason: 'stolen' })
  t.ok(newDeviceKey().keyId !== key.keyId)
})
