import t from 'tap'
import { deviceId } from './support/devices'
import { eachBackend } from './support/backends'
import { checkFieldResponse, fieldWouldFlash, parseFieldManifest } from './support/field-firmware'
import { httpUpdate } from './support/http-update'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { startServer, type RunningServer } from './support/server'
import { call } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'

async function firmwareJson(server: RunningServer) {
  const res = await fetch(`${server.url}/firmware.json`)
  const body = Buffer.from(await res.arrayBuffer())
  checkFieldResponse(Object.fromEntries(res.headers), body)
  return parseFieldManifest(body)
}

/** The contract's device rule, as for /firmware.json, applied to a /v1/manifest body. */
const manifestWouldFlash = (m: { version: string | null; sequence: number | null; allowDowngrade: boolean | null }, own: { version: string; sequence: number }) =>
  fieldWouldFlash({ version: m.version ?? '', sequence: m.sequence ?? 0, allowDowngrade: m.allowDowngrade === true, appMd5: '', appSize: 0, keys: [] }, own)

eachBackend(t, 'a rollback offers the older release with allow_downgrade on all three device endpoints, until the next release', async (t, backend) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server, 'ops-bob')
  const v1 = await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })
  const onV2 = { version: 'v2', sequence: 2 }
  t.match(await offerFor(server, deviceId(1), onV2), { version: 'v2', allowDowngrade: false })

  const notEarlier = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/rollback', ops, { to: 'v2' })
  t.equal(notEarlier.status, 409, 'a rollback must go to an earlier release')
  t.match(notEarlier.body, { error: 'rollout_conflict', message: /not earlier than v2/ })
  const unknown = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/rollback', ops, { to: 'nope' })
  t.match(unknown, { status: 404, body: { error: 'release_not_found' } })

  const rb = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/rollback', ops, { to: 'v1', reason: 'v2 drains the battery' })
  t.equal(rb.status, 200)
  t.match(rb.body, { board: 'esp32cam', channel: 'stable', rollback: { version: 'v1', sequence: 1 } })

  const offer = await offerFor(server, deviceId(1), onV2)
  t.match(offer, { version: 'v1', sequence: 1, allowDowngrade: true }, '/v1/manifest: v1 with allow_downgrade')
  t.ok(manifestWouldFlash(offer, onV2), 'the contract’s device rule takes it')
  const field = await firmwareJson(server)
  t.match(field, { version: 'v1', sequence: 1, allowDowngrade: true }, '/firmware.json: v1 with allow_downgrade true')
  t.ok(fieldWouldFlash(field, onV2), 'the field firmware’s parser and rule accept it')
  const arduino = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '24:6F:28:00:00:01', version: 'v2' })
  t.equal(arduino.status, 200, 'the Arduino endpoint sends the older binary (its never-downgrade rule lifted)')
  t.equal(arduino.headers['x-md5'], v1.md5)
  t.ok(arduino.body.equals(v1.image))
  const onV1 = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '24:6F:28:00:00:02', version: 'v1' })
  t.equal(onV1.status, 304, 'a device already back on v1 is told nothing new')

  await publishRelease(server, { version: 'v3', sequence: 3 })
  t.match(await offerFor(server, deviceId(1), { version: 'v1', sequence: 1 }), { version: 'v3', allowDowngrade: false }, 'the next release clears the rollback')
  t.match(await firmwareJson(server), { version: 'v3', allowDowngrade: false })
  const after = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '24:6F:28:00:00:01', version: 'v1' })
  t.equal(after.status, 200)
  t.notOk(after.body.equals(v1.image), 'Arduino devices get v3')

  const { body: status } = await call<{ channels: Array<Record<string, unknown>> }>(server, 'GET', '/v1/rollouts/esp32cam', ops)
  t.match(status.channels[0], { rollback: null, current: { version: 'v3' } })
  const { body: audit } = await call<{ entries: Array<Record<string, unknown>> }>(server, 'GET', '/v1/audit?board=esp32cam&channel=stable', ops)
  t.match(audit.entries.slice(0, 3), [
    { action: 'clear_rollback', version: 'v3', details: { was: 'v1' } },
    { action: 'start', version: 'v3', details: { percent: 100 } },
    { action: 'rollback', actor: 'ops-bob', reason: 'v2 drains the battery', details: { from: 'v2', to: 'v1' } },
  ])
})

eachBackend(t, 'after a rollback the rolled-back release never comes back as "the previous release"', async (t, backend) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })
  await call(server, 'POST', '/v1/rollouts/esp32cam/stable/rollback', ops, { to: 'v1' })
  await publishRelease(server, { version: 'v3', sequence: 3, rolloutPercent: 0 })
  t.match(await offerFor(server, deviceId(7), { version: 'v2', sequence: 2 }), { version: 'v1', allowDowngrade: false }, 'outside v3: v1, not the rolled-back v2')
  t.equal((await firmwareJson(server)).version, 'v1')
  const { body } = await call<{ releases: Array<{ version: string; rollout: { state: string } }> }>(server, 'GET', '/v1/releases?board=esp32cam', ops)
  t.same(body.releases.map((r) => [r.version, r.rollout.state]), [['v3', 'active'], ['v2', 'rolled_back'], ['v1', 'active']])
  const set = await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 100 })
  t.equal(set.status, 200)
  t.match(await offerFor(server, deviceId(7), { version: 'v1', sequence: 1 }), { version: 'v3' })
})
