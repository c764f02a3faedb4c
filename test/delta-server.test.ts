import crypto from 'node:crypto'
import t, { type Test } from 'tap'
import { applyEspDeltaPatch } from '../src/delta/esp-delta-patch'
import { runningPartitionDigest } from '../src/delta/esp-delta-header'
import { FLEET_ENV, deviceId, getJson } from './support/devices'
import { buildEspImage, reviseEspImage, smallCodeChange } from './support/esp-image-builder'
import { publishRelease, type PublishedRelease } from './support/publish'
import { cli, createToken, startServer, type RunningServer } from './support/server'

// Delta updates end to end on a real server: patches built when a release is published and on
// first demand, offered in the signed manifest, downloaded like binaries, switched off by failures
// and by operators, and counted as bytes saved.

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex')

interface Manifest {
  version: string
  sha256: string
  size: number
  delta?: { format: string; base_sha256: string; url: string; size: number; sha256: string }
  [field: string]: unknown
}

interface Poll {
  status: number
  body: Buffer
  manifest: Manifest
  headers: Headers
}

async function poll(server: RunningServer, query: Record<string, string | number>): Promise<Poll> {
  const qs = new URLSearchParams(Object.entries({ board: 'esp32cam', ...query }).map(([k, v]): [string, string] => [k, String(v)]))
  const res = await fetch(`${server.url}/v1/manifest?${qs}`)
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, body, manifest: res.status === 200 ? JSON.parse(body.toString('utf8')) : {}, headers: res.headers }
}

/** A device running `from` asks, saying it can apply esp_delta_ota patches. */
const deltaPoll = (server: RunningServer, device: string, from: PublishedRelease, extra: Record<string, string> = {}) =>
  poll(server, { device, version: from.release.version, sequence: from.release.sequence, delta: 'esp_delta_ota', running: from.sha256, ...extra })

interface PatchSummary {
  base_sha256: string
  base_version: string | null
  state: string
  offered: boolean
  fraction: number | null
  failures: number
}

/**
 * The release's patches once none is still building, as an operator reads them. Builds run in the
 * server's worker thread; this waits on what the server says, not on a timer.
 */
async function settledPatches(server: RunningServer, operator: string, version: string): Promise<PatchSummary[]> {
  for (let i = 0; i < 1200; i++) {
    const view = await getJson<{ delta: { patches: PatchSummary[] } }>(server, `/v1/releases/esp32cam/${version}`, operator)
    const patches = view.body.delta.patches
    if (!patches.some((p) => p.state === 'building')) return patches
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`patches to ${version} still building after two minutes`)
}

/** Three releases of esp32cam, each a small code change of the one before, as real releases are. */
async function releases(server: RunningServer, operator: string) {
  const first = buildEspImage({ version: 'mason', size: 200_000 })
  const second = reviseEspImage(first, (code) => smallCodeChange(code, 2))
  const third = reviseEspImage(second, (code) => smallCodeChange(code, 3))
  const mason = await publishRelease(server, { version: 'mason', sequence: 1, image: first })
  const carder = await publishRelease(server, { version: 'carder', sequence: 2, image: second })
  await settledPatches(server, operator, 'carder')
  return { mason, carder, leafcutter: async () => publishRelease(server, { version: 'leafcutter', sequence: 3, image: third }) }
}

async function start(t: Test, env: Record<string, string> = {}) {
  const server = await startServer(t, { ...FLEET_ENV, ...env })
  const operator = await createToken(server.dataDir, 'operator', 'ops')
  return { server, operator }
}

t.test('a published release gets a patch from the release before; a device running it is offered the patch', async (t) => {
  const { server, operator } = await start(t)
  const { mason, carder } = await releases(server, operator)

  const view = await getJson<{ delta: { board_enabled: boolean; patches: Array<Record<string, unknown>> } }>(server, '/v1/releases/esp32cam/carder', operator)
  t.equal(view.status, 200)
  t.equal(view.body.delta.board_enabled, true)
  t.equal(view.body.delta.patches.length, 1)
  t.match(view.body.delta.patches[0], { base_sha256: mason.sha256, base_version: 'mason', state: 'ready', offered: true, failures: 0, disabled_at: null })
  t.ok((view.body.delta.patches[0].fraction as number) < 0.1, `a small change gives a small patch (${view.body.delta.patches[0].fraction})`)

  // Devices that say nothing about deltas get exactly the manifest they got before.
  const plain = await poll(server, { device: deviceId(1), version: 'mason', sequence: 1 })
  t.equal(plain.status, 200)
  t.same(Object.keys(plain.manifest).sort(), [
    'allow_downgrade', 'board', 'channel', 'commit', 'expires_at', 'issued_at', 'md5', 'release_key_id', 'release_signature', 'sequence', 'sha256', 'size', 'tag', 'url', 'version',
  ])
  const anonymous = await poll(server, {})
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
  const signature = Buffer.from(offered.headers.get('x-ota-signature') ?? '', 'base64')
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
  await poll(server, { device: deviceId(2), version: 'carder', sequence: 2, delta: 'esp_delta_ota', running: carder.sha256 })
  const saved = { devices: 1, bytes_saved: carder.image.length - delta.size }
  t.same((await getJson<{ delta: unknown }>(server, '/v1/releases/esp32cam/carder/adoption', operator)).body.delta, saved)
  t.match((await getJson(server, '/v1/releases/esp32cam/carder', operator)).body, { delta: saved })
  t.match((await getJson(server, '/v1/fleet/versions?board=esp32cam', operator)).body, { delta: saved })
})

t.test('no delta without a known running digest, and none to a device on the target; bad parameters are 400', async (t) => {
  const { server, operator } = await start(t)
  const { mason, carder } = await releases(server, operator)
  const unknown = await poll(server, { device: deviceId(3), version: 'mason', sequence: 1, delta: 'esp_delta_ota', running: 'ab'.repeat(32) })
  t.equal(unknown.status, 200)
  t.equal(unknown.manifest.delta, undefined, 'a digest of no release of the board')
  t.same((await settledPatches(server, operator, 'carder')).map((p) => p.base_sha256), [mason.sha256], 'and no build for it')
  t.ok(carder)
  t.equal((await poll(server, { device: deviceId(3), version: 'mason', sequence: 1, delta: 'esp_delta_ota' })).manifest.delta, undefined, 'no running digest')
  t.equal((await poll(server, { device: deviceId(3), version: 'mason', sequence: 1, running: mason.sha256 })).manifest.delta, undefined, 'no delta asked for')
  t.equal((await poll(server, { device: deviceId(3), version: 'mason', sequence: 1, delta: 'bsdiff4', running: mason.sha256 })).manifest.delta, undefined, 'another format')
  t.equal((await deltaPoll(server, deviceId(4), carder)).manifest.delta, undefined, 'already on the target')
  for (const [name, query] of [
    ['running not hex', { running: 'x'.repeat(64) }],
    ['running too short', { running: 'ab' }],
    ['running upper case', { running: mason.sha256.toUpperCase() }],
    ['delta too long', { delta: 'a'.repeat(33) }],
    ['delta with markup', { delta: '<b>' }],
  ] as const) {
    const good: Record<string, string | number> = { device: deviceId(5), version: 'mason', sequence: 1, delta: 'esp_delta_ota', running: mason.sha256 }
    const r = await poll(server, { ...good, ...query })
    t.equal(r.status, 400, name)
    t.equal(JSON.parse(r.body.toString()).error, 'bad_request', name)
  }
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

t.test('delta_failed: that device gets the full image; past the limit the patch is off for everyone', async (t) => {
  const { server, operator } = await start(t, { OTA_DELTA_FAILURE_LIMIT: '2' })
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
  const detail = await getJson<{ reports: Array<{ status: string; detail: string }> }>(server, `/v1/devices/${deviceId(10)}`, operator)
  t.match(detail.body.reports[0], { status: 'delta_failed', detail: 'sha256_mismatch <script>' })

  await fail(11)
  t.equal((await deltaPoll(server, deviceId(12), mason)).manifest.delta, undefined, 'switched off for everyone')
  const view = await getJson<{ delta: { patches: Array<Record<string, unknown>> } }>(server, '/v1/releases/esp32cam/carder', operator)
  t.match(view.body.delta.patches[0], { failures: 2, offered: false, disabled_at: /^\d{4}-/ })
  const adoption = await getJson<{ failed: number }>(server, '/v1/releases/esp32cam/carder/adoption', operator)
  t.equal(adoption.body.failed, 0, 'a failed delta is not a failed update: the full image follows')
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
