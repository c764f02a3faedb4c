import crypto from 'node:crypto'
import t from 'tap'
import { applyEspDeltaPatch } from '../src/delta/esp-delta-patch'
import { runningPartitionDigest } from '../src/delta/esp-delta-header'
import { deviceId } from './support/devices'
import { pollManifest } from './support/manifest-poll'
import { deltaPoll, releases, settledPatches, sha256, startDeltaServer as start } from './support/delta'
import { getJson } from './support/http'

// Delta updates end to end on a real server: patches built when a release is published and on
// first demand, offered in the signed manifest, downloaded like binaries, counted as bytes saved.

// One server (and its build worker) for the tests that need only mason and carder published; each
// asks as its own devices.
t.test('mason, then carder published', async (t) => {
  const { server, operator } = await start(t)
  const { mason, carder } = await releases(server, operator)

  t.test('a published release gets a patch from the release before; a device running it is offered the patch', async (t) => {
    const view = await getJson<{ delta: { board_enabled: boolean; patches: Array<Record<string, unknown>> } }>(server, '/v1/releases/esp32cam/carder', operator)
    t.equal(view.status, 200)
    t.equal(view.body.delta.board_enabled, true)
    t.equal(view.body.delta.patches.length, 1)
    t.match(view.body.delta.patches[0], { base_sha256: mason.sha256, base_version: 'mason', state: 'ready', offered: true, failures: 0, disabled_at: null })
    t.ok((view.body.delta.patches[0].fraction as number) < 0.1, `a small change gives a small patch (${view.body.delta.patches[0].fraction})`)

    // Devices that say nothing about deltas get exactly the manifest they got before.
    const plain = await pollManifest(server, { device: deviceId(1), version: 'mason', sequence: 1 })
    t.equal(plain.status, 200)
    t.same(Object.keys(plain.manifest).sort(), [
      'allow_downgrade', 'board', 'channel', 'commit', 'expires_at', 'issued_at', 'md5', 'release_key_id', 'release_signature', 'sequence', 'sha256', 'size', 'tag', 'url', 'version',
    ])
    const anonymous = await pollManifest(server, {})
    t.ok(anonymous.body.equals(plain.body), 'one signed body for every device with that target')

    const offered = await deltaPoll(server, deviceId(2), mason)
    t.equal(offered.status, 200)
    t.ok(offered.body.length <= 1024, `${offered.body.length} bytes`)
    const delta = offered.manifest.delta
    if (delta === undefined) throw new Error('no delta offered')
    t.same(Object.keys(delta), ['format', 'base_sha256', 'url', 'size', 'sha256'])
    t.match(delta, { format: 'esp_delta_ota', base_sha256: mason.sha256, url: `${server.url}/v1/delta/${mason.sha256}/${carder.sha256}.patch` })
    t.equal(offered.manifest.sha256, carder.sha256, 'the target stays the full image the device checks')
    t.equal(offered.manifest.release_signature, plain.manifest.release_signature, 'the release signature is unchanged')
    const keys = (await (await fetch(`${server.url}/v1/keys`)).json()) as { server: { public_key_pem: string } }
    const signature = Buffer.from(String(offered.headers['x-ota-signature'] ?? ''), 'base64')
    t.ok(crypto.verify('sha256', offered.body, keys.server.public_key_pem, signature), 'the server signature covers the delta object')

    // The patch is served like a binary: exact length, immutable, ranges.
    const whole = await fetch(delta.url)
    const patch = Buffer.from(await whole.arrayBuffer())
    t.equal(whole.status, 200)
    t.equal(whole.headers.get('content-length'), String(delta.size))
    t.match(whole.headers.get('cache-control'), /immutable/)
    t.equal(whole.headers.get('etag'), `"${delta.sha256}"`)
    t.equal(sha256(patch), delta.sha256)
    t.equal(patch.readUInt32LE(0), 0xfccdde10, 'esp_delta_ota magic')
    t.ok(patch.subarray(4, 36).equals(runningPartitionDigest(mason.image)), "the base's validation hash, as esp_partition_get_sha256 gives it")
    t.equal(sha256(applyEspDeltaPatch(mason.image, patch)), carder.sha256, 'base + patch = the release, byte for byte')
    const part = await fetch(delta.url, { headers: { range: 'bytes=10-' } })
    t.equal(part.status, 206)
    t.equal(part.headers.get('content-range'), `bytes 10-${delta.size - 1}/${delta.size}`)
    t.ok(Buffer.from(await part.arrayBuffer()).equals(patch.subarray(10)))
    t.equal((await fetch(`${server.url}/v1/delta/${carder.sha256}/${mason.sha256}.patch`)).status, 404, 'no patch the other way')
    t.equal((await fetch(`${server.url}/v1/delta/nothex/${mason.sha256}.patch`)).status, 404)

    // The device's running digest is recorded; taking the release by delta counts as saved bytes.
    const device = await getJson<{ running_sha256: string }>(server, `/v1/devices/${deviceId(2)}`, operator)
    t.equal(device.body.running_sha256, mason.sha256)
    await pollManifest(server, { device: deviceId(2), version: 'carder', sequence: 2, delta: 'esp_delta_ota', running: carder.sha256 })
    const saved = { devices: 1, bytes_saved: carder.image.length - delta.size }
    t.same((await getJson<{ delta: unknown }>(server, '/v1/releases/esp32cam/carder/adoption', operator)).body.delta, saved)
    t.match((await getJson(server, '/v1/releases/esp32cam/carder', operator)).body, { delta: saved })
    t.match((await getJson(server, '/v1/fleet/versions?board=esp32cam', operator)).body, { delta: saved })
  })

  t.test('no delta without a known running digest, and none to a device on the target; bad parameters are 400', async (t) => {
    const unknown = await pollManifest(server, { device: deviceId(3), version: 'mason', sequence: 1, delta: 'esp_delta_ota', running: 'ab'.repeat(32) })
    t.equal(unknown.status, 200)
    t.equal(unknown.manifest.delta, undefined, 'a digest of no release of the board')
    t.same((await settledPatches(server, operator, 'carder')).map((p) => p.base_sha256), [mason.sha256], 'and no build for it')
    t.ok(carder)
    t.equal((await pollManifest(server, { device: deviceId(3), version: 'mason', sequence: 1, delta: 'esp_delta_ota' })).manifest.delta, undefined, 'no running digest')
    t.equal((await pollManifest(server, { device: deviceId(3), version: 'mason', sequence: 1, running: mason.sha256 })).manifest.delta, undefined, 'no delta asked for')
    t.equal((await pollManifest(server, { device: deviceId(3), version: 'mason', sequence: 1, delta: 'bsdiff4', running: mason.sha256 })).manifest.delta, undefined, 'another format')
    t.equal((await deltaPoll(server, deviceId(4), carder)).manifest.delta, undefined, 'already on the target')
    for (const [name, query] of [
      ['running not hex', { running: 'x'.repeat(64) }],
      ['running too short', { running: 'ab' }],
      ['running upper case', { running: mason.sha256.toUpperCase() }],
      ['delta too long', { delta: 'a'.repeat(33) }],
      ['delta with markup', { delta: '<b>' }],
    ] as const) {
      const good: Record<string, string | number> = { device: deviceId(5), version: 'mason', sequence: 1, delta: 'esp_delta_ota', running: mason.sha256 }
      const r = await pollManifest(server, { ...good, ...query })
      t.equal(r.status, 400, name)
      t.equal(JSON.parse(r.body.toString()).error, 'bad_request', name)
    }
  })
})

t.test('bases beyond OTA_DELTA_BASES are built the first time a device running one asks', async (t) => {
  const { server, operator } = await start(t, { OTA_DELTA_BASES: '1' })
  const { mason, leafcutter: publishThird } = await releases(server, operator)
  const leafcutter = await publishThird()
  const before = await settledPatches(server, operator, 'leafcutter')
  t.same(before.map((p) => p.base_version), ['carder'], 'only the release before, ahead of demand')

  const first = await deltaPoll(server, deviceId(6), mason)
  t.equal(first.manifest.version, 'leafcutter')
  t.equal(first.manifest.delta, undefined, 'the full image while the patch is built: the poll does not wait')
  t.same((await settledPatches(server, operator, 'leafcutter')).map((p) => p.base_version), ['carder', 'mason'])
  const second = await deltaPoll(server, deviceId(6), mason)
  t.equal(second.manifest.delta?.base_sha256, mason.sha256, 'offered once built')
  t.equal(sha256(applyEspDeltaPatch(mason.image, Buffer.from(await (await fetch(second.manifest.delta?.url ?? '')).arrayBuffer()))), leafcutter.sha256)

})

