import t from 'tap'
import { deviceId } from './support/devices'
import { eachBackend } from './support/backends'
import { httpUpdate } from './support/http-update'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { buildApp, startServer } from './support/server'
import { call } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'

eachBackend(t, 'a pinned device keeps its release whatever the rollout does; unpin returns it to the rollout', async (t, backend) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server, 'ops-carol')
  const v1 = await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })
  const pinned = deviceId(1)
  const other = deviceId(2)
  const onV1 = { version: 'v1', sequence: 1 }

  const pin = await call(server, 'PUT', '/v1/pins', ops, { devices: [pinned.toUpperCase()], board: 'esp32cam', version: 'v1', reason: 'lab unit' })
  t.equal(pin.status, 200)
  t.match(pin.body, { pins: [{ device: pinned, board: 'esp32cam', version: 'v1', sequence: 1, pinned_by: 'ops-carol', reason: 'lab unit' }] })
  t.match(await offerFor(server, pinned, onV1), { version: 'v1' }, 'pinned to v1 while v2 is out')
  t.match(await offerFor(server, pinned, { version: 'v2', sequence: 2 }), { version: 'v1', allowDowngrade: true }, 'a pinned device on a newer release is sent down to its pin')
  t.match(await offerFor(server, other, onV1), { version: 'v2' }, 'other devices follow the rollout')

  await publishRelease(server, { version: 'v3', sequence: 3, rolloutPercent: 100 })
  t.match(await offerFor(server, pinned, onV1), { version: 'v1' }, 'a new release does not move it')
  await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 0 })
  await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 100 })
  t.match(await offerFor(server, pinned, onV1), { version: 'v1' }, 'nor do percentage changes')
  await call(server, 'POST', '/v1/rollouts/esp32cam/stable/rollback', ops, { to: 'v2' })
  t.match(await offerFor(server, pinned, onV1), { version: 'v1' }, 'nor a rollback')
  t.match(await offerFor(server, other, { version: 'v3', sequence: 3 }), { version: 'v2', allowDowngrade: true })
  const arduino = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: pinned, version: 'v3' })
  t.equal(arduino.status, 200, 'the Arduino endpoint follows the pin too')
  t.equal(arduino.headers['x-md5'], v1.md5)

  const { body: list } = await call<{ pins: unknown[] }>(server, 'GET', '/v1/pins?board=esp32cam', ops)
  t.match(list.pins, [{ device: pinned, version: 'v1' }])
  const unpin = await call(server, 'DELETE', `/v1/pins/${pinned}?reason=lab+done`, ops)
  t.equal(unpin.status, 200)
  t.match(unpin.body, { device: pinned, version: 'v1' })
  t.match(await offerFor(server, pinned, onV1), { version: 'v2', allowDowngrade: true }, 'unpinned: it follows the channel (here its rollback) again')
  const again = await call(server, 'DELETE', `/v1/pins/${pinned}`, ops)
  t.match(again, { status: 404, body: { error: 'pin_not_found' } })
})

eachBackend(t, 'pins take a list of devices; refusals say what to fix', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 0 })
  const devices = Array.from({ length: 20 }, (_, i) => deviceId(i, 0xc0))
  const pin = await call<{ pins: unknown[] }>(server, 'PUT', '/v1/pins', ops, { devices, board: 'esp32cam', version: 'v2' })
  t.equal(pin.body.pins.length, 20)
  for (const d of devices) t.match(await offerFor(server, d, { version: 'v1', sequence: 1 }), { version: 'v2', allowDowngrade: false }, `${d} pinned to the newest`)
  t.match(await offerFor(server, deviceId(99, 0xc0), { version: 'v1', sequence: 1 }), { version: 'v1' }, 'an unpinned device is outside the 0% rollout')

  const shown = await call(server, 'GET', `/v1/devices/${devices[0]}`, ops)
  t.match(shown.body, {
    device: devices[0],
    rollout: { pinned: { version: 'v2', pinned_by: 'ops-alice' }, target: { version: 'v2', basis: 'pinned', allow_downgrade: false }, in_rollout: false },
  }, 'the device view shows the pin, the target and why, and whether the rollout includes it')
  const unpinnedView = await call(server, 'GET', `/v1/devices/${deviceId(99, 0xc0)}`, ops)
  t.match(unpinnedView.body, { rollout: { pinned: null, target: { version: 'v1', basis: 'rollout' }, in_rollout: false } })
  const versions = await call(server, 'GET', '/v1/fleet/versions?board=esp32cam', ops)
  t.match(versions.body, { rollouts: [{ board: 'esp32cam', channel: 'stable', current: { version: 'v2', percent: 0, state: 'active' }, rollback: null }] }, 'the fleet view shows the current rollout per board and channel')

  t.match(await call(server, 'PUT', '/v1/pins', ops, { devices, board: 'esp32cam', version: 'nope' }), { status: 404, body: { error: 'release_not_found' } })
  t.match(await call(server, 'PUT', '/v1/pins', ops, { devices: ['not-a-mac'], board: 'esp32cam', version: 'v1' }), { status: 400, body: { error: 'bad_request' } })
  t.match(await call(server, 'PUT', '/v1/pins', ops, { devices: [], board: 'esp32cam', version: 'v1' }), { status: 400 })
})
