import t from 'tap'
import { deviceId } from './support/devices'
import { publishRelease } from './support/publish'
import { cli, createToken } from './support/server'
import { admitted, reportWith } from './support/device-credentials'
import { pollManifest } from './support/manifest-poll'
import { deltaPoll, releases, settledPatches, startDeltaServer as start } from './support/delta'
import { getJson } from './support/http'

// When deltas are not offered: a device that failed one, a patch too many devices failed, a board
// an operator switched off, a patch of half the image or more.

t.test('delta_failed: that device gets the full image; past the limit the patch is off for everyone', async (t) => {
  // Device credentials off: every device is taken at its word (the next test: with them on).
  const { server, operator } = await start(t, { OTA_DELTA_FAILURE_LIMIT: '2', OTA_DEVICE_AUTH: 'off' })
  const { mason } = await releases(server, operator)
  const fail = async (n: number) => {
    t.ok((await deltaPoll(server, deviceId(n), mason)).manifest.delta, `device ${n} is offered the delta`)
    const res = await fetch(`${server.url}/v1/devices/${deviceId(n)}/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'delta_failed', version: 'carder', sequence: 2, detail: 'sha256_mismatch <script>' }),
    })
    t.equal(res.status, 202)
  }
  await fail(10)
  t.equal((await deltaPoll(server, deviceId(10), mason)).manifest.delta, undefined, 'the device that failed gets the full image')
  t.ok((await deltaPoll(server, deviceId(11), mason)).manifest.delta, 'others still get the delta')
  const unknownDevice = await fetch(`${server.url}/v1/devices/${deviceId(99)}/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'delta_failed', version: 'carder', sequence: 2 }),
  })
  t.equal(unknownDevice.status, 404, 'a device that never polled')
  t.match((await settledPatches(server, operator, 'carder'))[0], { failures: 1, offered: true }, 'one failure is counted, the patch stays on')

  await fail(11)
  t.equal((await deltaPoll(server, deviceId(12), mason)).manifest.delta, undefined, 'switched off for everyone')
  const view = await getJson<{ delta: { patches: Array<Record<string, unknown>> } }>(server, '/v1/releases/esp32cam/carder', operator)
  t.match(view.body.delta.patches[0], { failures: 2, offered: false, disabled_at: /^\d{4}-/ })
  const adoption = await getJson<{ failed: number }>(server, '/v1/releases/esp32cam/carder/adoption', operator)
  t.equal(adoption.body.failed, 0, 'a failed delta is not a failed update: the full image follows')
})

t.test('with device credentials on, only devices that proved who they are switch a patch off for everyone', async (t) => {
  const { server, operator } = await start(t, { OTA_DELTA_FAILURE_LIMIT: '2', OTA_DEVICE_AUTH: 'optional' })
  const { mason } = await releases(server, operator)
  const failed = { status: 'delta_failed', version: 'carder', sequence: 2, detail: 'sha256_mismatch' }
  for (const n of [40, 41, 42]) {
    t.ok((await deltaPoll(server, deviceId(n), mason)).manifest.delta, `unproven device ${n} is offered the delta`)
    t.equal((await reportWith(server, deviceId(n), failed)).status, 202)
  }
  t.equal((await deltaPoll(server, deviceId(40), mason)).manifest.delta, undefined, 'an unproven failure costs the device it names its delta')
  t.ok((await deltaPoll(server, deviceId(43), mason)).manifest.delta, 'three unproven failures past a limit of 2: the patch stays on')
  t.match((await settledPatches(server, operator, 'carder'))[0], { offered: true })

  for (const n of [50, 51]) {
    const { token } = await admitted(server, operator, deviceId(n))
    const q = { device: deviceId(n), version: 'mason', sequence: 1, delta: 'esp_delta_ota', running: mason.sha256 }
    t.ok((await pollManifest(server, q, { token })).manifest.delta, `verified device ${n} is offered the delta`)
    t.equal((await reportWith(server, deviceId(n), failed, token)).status, 202)
  }
  t.equal((await deltaPoll(server, deviceId(44), mason)).manifest.delta, undefined, 'two verified failures: off for everyone')
  t.match((await settledPatches(server, operator, 'carder'))[0], { offered: false, disabled_at: /^\d{4}-/ })
})

t.test('operators turn deltas off and on per board, by API and CLI', async (t) => {
  const { server, operator } = await start(t)
  const { mason } = await releases(server, operator)
  const put = (token: string, board: string, body: unknown) =>
    fetch(`${server.url}/v1/boards/${board}/delta`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const releaser = await createToken(server.dataDir, 'releaser', 'ci')
  t.equal((await put(releaser, 'esp32cam', { enabled: false })).status, 403, 'not a releaser')
  t.equal((await put(operator, 'nosuch', { enabled: false })).status, 404)
  t.equal((await put(operator, 'esp32cam', { enabled: 'no' })).status, 400)
  const off = await put(operator, 'esp32cam', { enabled: false })
  t.same(await off.json(), { board: 'esp32cam', delta_enabled: false })
  t.equal((await deltaPoll(server, deviceId(20), mason)).manifest.delta, undefined, 'off: no delta')
  t.match((await getJson(server, '/v1/boards/esp32cam', operator)).body, { delta_enabled: false })

  const on = await cli(['board', 'delta', 'esp32cam', 'on'], { OTA_DATA_DIR: server.dataDir })
  t.equal(on.code, 0, on.stderr)
  t.ok((await deltaPoll(server, deviceId(20), mason)).manifest.delta, 'on again from the CLI')
  t.equal((await cli(['board', 'delta', 'nosuch', 'off'], { OTA_DATA_DIR: server.dataDir })).code, 1)
  t.equal((await cli(['board', 'delta', 'esp32cam', 'maybe'], { OTA_DATA_DIR: server.dataDir })).code, 2)
})

t.test('a patch of half the image or more is never offered', async (t) => {
  const { server, operator } = await start(t)
  const base = await publishRelease(server, { version: 'mason', sequence: 1, imageSize: 100_000 })
  await publishRelease(server, { version: 'carder', sequence: 2, imageSize: 100_000 })
  const [patch] = await settledPatches(server, operator, 'carder')
  t.match(patch, { state: 'ready', offered: false })
  t.ok((patch.fraction ?? 0) >= 0.5, `unrelated images: the patch is about the whole image (${patch.fraction})`)
  t.equal((await deltaPoll(server, deviceId(30), base)).manifest.delta, undefined)
})
