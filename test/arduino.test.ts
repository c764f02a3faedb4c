import crypto from 'node:crypto'
import BetterSqlite3 from 'better-sqlite3'
import t, { type Test } from 'tap'
import { databasePath } from '../src/db/open'
import { buildEspImage } from './support/esp-image-builder'
import { httpUpdate, type RawResponse } from './support/http-update'
import { publishRelease } from './support/publish'
import { startServer, type RunningServer } from './support/server'
import { FLEET_NO_DELTAS_ENV } from './support/env'


const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex')

interface DeviceRow {
  version: string
  sequence: number
  free_space: number | null
  sketch_md5: string | null
  user_agent: string | null
  last_offered: number | null
  note: string | null
}

/** The device's row as committed, read from the server's database file by a separate connection. */
function deviceRow(server: RunningServer, device: string): DeviceRow | undefined {
  const db = new BetterSqlite3(databasePath(server.dataDir), { readonly: true })
  try {
    return db
      .prepare('SELECT version, sequence, free_space, sketch_md5, user_agent, last_offered, note FROM devices WHERE device = ?')
      .get(device) as DeviceRow | undefined
  } finally {
    db.close()
  }
}

function expectNoUpdate(t: Test, r: RawResponse, why: string): void {
  t.equal(r.status, 304, why)
  t.equal(r.body.length, 0, `${why}: no body`)
  t.same([r.headers['content-type'], r.headers['content-length'], r.headers['transfer-encoding']], [undefined, undefined, undefined], `${why}: no body headers`)
}

t.test('an update: 200, Content-Length, lowercase x-MD5, an image starting 0xE9; the check-in recorded', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const old = await publishRelease(server, { version: 'carpenter', sequence: 11 })
  const target = await publishRelease(server, { version: 'mason', sequence: 12, imageSize: 256 * 1024 })
  const r = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '24:6F:28:AA:BB:CC', version: 'carpenter', md5: old.md5 })
  t.equal(r.status, 200)
  t.match(r.statusLine, /^HTTP\/1\.[01] 200/)
  t.equal(r.headers['content-length'], String(target.image.length))
  t.notOk(r.headers['transfer-encoding'], 'never chunked')
  t.equal(r.headers['x-md5'], target.md5)
  t.match(r.headers['x-md5'], /^[0-9a-f]{32}$/, 'x-MD5 is 32 lowercase hex')
  t.equal(r.body[0], 0xe9, 'the first byte HTTPUpdate checks')
  t.equal(md5(r.body), r.headers['x-md5'], 'the body is what x-MD5 says')
  t.equal(r.headers['x-sha256'], crypto.createHash('sha256').update(target.image).digest('hex'), 'x-SHA256: the release digest, which arduino-esp32 3.x checks')
  t.equal(crypto.createHash('sha256').update(r.body).digest('hex'), r.headers['x-sha256'], 'the body is what x-SHA256 says')
  t.equal(r.body.length, target.image.length)

  const row = deviceRow(server, '246f28aabbcc')
  t.match(row, {
    version: 'carpenter',
    sequence: 11,
    free_space: 1966080,
    sketch_md5: old.md5,
    user_agent: 'ESP32-http-Update',
    last_offered: target.release.id,
    note: null,
  })
})

t.test('no update (304) when the device runs the target: same md5, or same version', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const target = await publishRelease(server, { version: 'mason', sequence: 12 })
  expectNoUpdate(t, await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28AABB01', md5: target.md5 }), 'same md5, no version header')
  t.match(deviceRow(server, '246f28aabb01'), { version: 'mason', sequence: 12, last_offered: null }, 'version and sequence known from the md5')
  expectNoUpdate(t, await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28AABB02', version: 'mason', md5: '0'.repeat(32) }), 'same version')
  const unknown = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28AABB03', md5: 'f'.repeat(32) })
  t.equal(unknown.status, 200, 'an unknown sketch without a version gets the target')
  t.match(deviceRow(server, '246f28aabb03'), { version: 'unknown', sequence: 0 })
})

t.test('never a downgrade: known releases by sequence, unknown versions by semver, else the target', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const older = await publishRelease(server, { version: 'carpenter', sequence: 11 })
  await publishRelease(server, { version: '2.0.0', sequence: 12 })
  const get = (mac: string, version: string, sketchMd5?: string) =>
    httpUpdate(server, '/v1/arduino/esp32cam', { mac, version, md5: sketchMd5 })

  t.equal((await get('246F28000001', 'carpenter', older.md5)).status, 200, 'a known older release is updated')
  // A newer release published on another channel: the device on it must not be taken back to 2.0.0.
  const beta = await publishRelease(server, { version: 'mason-beta', sequence: 13, channel: 'beta' })
  expectNoUpdate(t, await get('246F28000002', 'mason-beta', beta.md5), 'a known newer release is not downgraded')
  t.equal(deviceRow(server, '246f28000002')?.sequence, 13)

  expectNoUpdate(t, await get('246F28000003', '2.1.0'), 'an unknown semver above the target')
  expectNoUpdate(t, await get('246F28000004', 'v2.0.1'), 'an unknown semver above, with a v')
  t.equal((await get('246F28000005', '1.9.9')).status, 200, 'an unknown semver below the target')
  t.equal((await get('246F28000006', 'homebuilt')).status, 200, 'an unknown label: the target is offered')

  // With a bee-name target, semver has nothing to compare.
  const bee = await startServer(t, FLEET_NO_DELTAS_ENV)
  await publishRelease(bee, { version: 'mason', sequence: 5 })
  t.equal((await httpUpdate(bee, '/v1/arduino/esp32cam', { mac: '246F28000007', version: '9.9.9' })).status, 200)
})

t.test('free space too small: still 200 (the device refuses it itself), with a note on the check-in', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const target = await publishRelease(server, { version: 'mason', sequence: 12, imageSize: 200 * 1024 })
  const r = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '24:6f:28:00:00:10', version: 'carpenter', freeSpace: 100 * 1024 })
  t.equal(r.status, 200)
  const row = deviceRow(server, '246f28000010')
  t.equal(row?.free_space, 100 * 1024)
  t.match(row?.note, new RegExp(`target mason \\(${target.image.length.toLocaleString('en-US')} bytes\\) does not fit the free OTA space \\(102,400 bytes\\)`))
  await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '24:6f:28:00:00:10', version: 'carpenter', freeSpace: 1966080 })
  t.equal(deviceRow(server, '246f28000010')?.note, null, 'the note goes once it fits')
})

t.test('a chip without Wi-Fi is identified by x-ESP32-BASE-MAC, checked like the station MAC', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const old = await publishRelease(server, { version: 'carpenter', sequence: 11 })
  const target = await publishRelease(server, { version: 'mason', sequence: 12 })
  const r = await httpUpdate(server, '/v1/arduino/esp32cam', { baseMac: '24:6F:28:00:00:30', version: 'carpenter', md5: old.md5 })
  t.equal(r.status, 200)
  t.match(deviceRow(server, '246f28000030'), { version: 'carpenter', sequence: 11, last_offered: target.release.id }, 'the check-in names the base MAC')
  expectNoUpdate(t, await httpUpdate(server, '/v1/arduino/esp32cam', { baseMac: '246F28000031', md5: target.md5 }), 'up to date, by base MAC')
  t.match(deviceRow(server, '246f28000031'), { version: 'mason', sequence: 12 })

  const bad = await httpUpdate(server, '/v1/arduino/esp32cam', { baseMac: '24:6F:28:00:00' })
  t.equal(bad.status, 400)
  t.match(JSON.parse(bad.body.toString()), { error: 'bad_request', message: /x-esp32-base-mac/i })
  t.equal((await httpUpdate(server, '/v1/arduino/esp32cam', { mac: 'nope', baseMac: '246F28000032' })).status, 400, 'a malformed station MAC is refused, base MAC or not')
  await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28000033', baseMac: '246F28000034', version: 'carpenter' })
  t.ok(deviceRow(server, '246f28000033'), 'with both, the station MAC names the device')
  t.notOk(deviceRow(server, '246f28000034'))
})

t.test('refusals: missing or malformed MAC 400; unknown board 404; nothing published 304; never 204 or 3xx', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const seen: number[] = []
  const noMac = await httpUpdate(server, '/v1/arduino/esp32cam', {})
  t.equal(noMac.status, 400)
  t.match(JSON.parse(noMac.body.toString()), { error: 'bad_request', message: /x-esp32-sta-mac.*x-esp32-base-mac/i })
  const badMac = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: 'not-a-mac' })
  t.equal(badMac.status, 400)
  t.match(JSON.parse(badMac.body.toString()).message, /x-esp32-sta-mac/i)
  seen.push(noMac.status, badMac.status)

  const unknownBoard = await httpUpdate(server, '/v1/arduino/nosuchboard', { mac: '246F28000020' })
  t.equal(unknownBoard.status, 404)
  t.equal(JSON.parse(unknownBoard.body.toString()).error, 'no_release')
  const nothing = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28000021', version: 'carpenter' })
  expectNoUpdate(t, nothing, 'a known board with nothing published')
  t.match(deviceRow(server, '246f28000021'), { version: 'carpenter', last_offered: null }, 'and the device is recorded')
  seen.push(unknownBoard.status, nothing.status)

  await publishRelease(server, { version: 'mason', sequence: 1 })
  for (const sketch of [{ version: 'mason' }, { version: 'carpenter' }, { version: '0.0.1' }, {}]) {
    seen.push((await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28000022', ...sketch })).status)
  }
  seen.push((await httpUpdate(server, '/v1/arduino/esp32cam?channel=beta', { mac: '246F28000022' })).status)
  t.notOk(seen.some((s) => s === 204 || (s >= 300 && s < 400 && s !== 304)), `never 204 or a redirect: ${seen.join(', ')}`)
})

t.test('the Content-Length is right for a 1.5 MB image, from memory and streamed from disk', async (t) => {
  const image = buildEspImage({ version: 'mason', size: 1_500_000, seed: 9 })
  for (const cache of ['67108864', '0']) {
    const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_CACHE_BYTES: cache })
    await publishRelease(server, { version: 'mason', sequence: 1, image })
    const r = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28000030', version: 'carpenter' })
    t.equal(r.status, 200, `OTA_CACHE_BYTES=${cache}`)
    t.equal(Number(r.headers['content-length']), image.length)
    t.notOk(r.headers['transfer-encoding'])
    t.same(r.body, image)
  }
})

t.test('a file-system image request (x-ESP32-mode other than sketch) is not answered with the application', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  await publishRelease(server, { version: 'mason', sequence: 1 })
  const r = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '246F28000040', version: 'carpenter', mode: 'spiffs' })
  t.equal(r.status, 404)
  t.match(JSON.parse(r.body.toString()), { error: 'not_found', message: /application images only/ })
})
