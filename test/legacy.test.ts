import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { databasePath } from '../src/db/open'
import { buildReleaseStatement } from '../src/release/release-statement'
import { buildEspImage } from './support/esp-image-builder'
import { FieldRefusal, checkFieldResponse, fieldWouldFlash, parseFieldManifest } from './support/field-firmware'
import { publishRelease, publisherOf } from './support/publish'
import { startServer, tempDir, type RunningServer } from './support/server'
import { startBuiltServer } from './support/built-server'
import { FLEET_NO_DELTAS_ENV } from './support/env'


const run = promisify(execFile)

/** The field firmware's HTTP client: User-Agent hivehive-ota/1.0, Connection: close, the body read in 4 KiB pieces. */
function fieldGet(
  server: RunningServer,
  urlPath: string,
  extra: Record<string, string> = {}
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; pieces: number[] }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, path: urlPath, agent: false, headers: { 'user-agent': 'hivehive-ota/1.0', connection: 'close', ...extra } },
      (res) => {
        const chunks: Buffer[] = []
        const pieces: number[] = []
        res.on('readable', () => {
          let piece: Buffer | null
          while ((piece = res.read(4096) as Buffer | null) !== null) {
            chunks.push(piece)
            pieces.push(piece.length)
          }
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), pieces }))
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    req.end()
  })
}

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex')

t.test('field firmware parser: the test helper refuses what the firmware refuses', async (t) => {
  const good = '{"version":"mason","sequence":12,"app_md5":"0123456789abcdef0123456789abcdef","app_size":1000,"allow_downgrade":false}'
  t.equal(parseFieldManifest(good).version, 'mason')
  t.equal(parseFieldManifest(good.replace('false', 'true')).allowDowngrade, true)
  t.equal(parseFieldManifest(good.replace('false', '1')).allowDowngrade, false, 'only the literal true enables a downgrade')
  const bad: Array<[string, string]> = [
    [good.replace('"mason"', '"ma\\u0073on"'), 'a backslash escape'],
    [good.replace('mason', 'm'.repeat(32)), 'a 32-character version'],
    [good.replace('0123456789abcdef0123456789abcdef', '0123456789ABCDEF0123456789ABCDEF'), 'uppercase md5'],
    [good.replace('"app_size":1000', '"app_size":1900001'), 'app_size over 1,900,000'],
    [good.replace('"app_size":1000', '"app_size":0'), 'app_size 0'],
    [good.replace('"sequence":12', '"sequence":4294967296'), 'sequence over uint32'],
    [good.replace('"sequence":12', '"sequence":"12"'), 'sequence as a string'],
    [good.replace('"sequence":12,', ''), 'no sequence'],
    [good.replace('"allow_downgrade":false', '"extra":{"nested":1}'), 'a nested object'],
    [good.slice(0, -1) + `,"pad":"${'x'.repeat(1024)}"}`, 'over 1024 bytes'],
  ]
  for (const [body, what] of bad) t.throws(() => parseFieldManifest(body), FieldRefusal, what)
  t.throws(() => checkFieldResponse({ 'transfer-encoding': 'chunked' }, Buffer.from(good)), FieldRefusal, 'chunked')
  t.throws(() => checkFieldResponse({}, Buffer.from(good)), FieldRefusal, 'no Content-Length')
})

t.test('/firmware.json: what the field firmware parses, exactly the five fields; /firmware.app.bin: the bytes it describes', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  for (const p of ['/firmware.json', '/firmware.app.bin']) {
    const none = await fieldGet(server, p)
    t.equal(none.status, 404, `${p} without a release`)
    t.same(JSON.parse(none.body.toString()).error, 'no_release')
  }

  await publishRelease(server, { version: 'carpenter', sequence: 11 })
  const published = await publishRelease(server, { version: 'mason', sequence: 12, imageSize: 300 * 1024 })
  const r = await fieldGet(server, '/firmware.json')
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^application\/json/)
  checkFieldResponse(r.headers, r.body)
  const m = parseFieldManifest(r.body)
  t.same(m.keys, ['version', 'sequence', 'app_md5', 'app_size', 'allow_downgrade'], 'exactly the field set')
  t.same(
    { version: m.version, sequence: m.sequence, appMd5: m.appMd5, appSize: m.appSize, allowDowngrade: m.allowDowngrade },
    { version: 'mason', sequence: 12, appMd5: published.md5, appSize: published.image.length, allowDowngrade: false }
  )
  t.ok(fieldWouldFlash(m, { version: 'carpenter', sequence: 11 }), 'a device on the previous release flashes it')
  t.notOk(fieldWouldFlash(m, { version: 'mason', sequence: 12 }), 'a device on it does not')

  const bin = await fieldGet(server, '/firmware.app.bin')
  t.equal(bin.status, 200)
  t.equal(bin.headers['content-length'], String(m.appSize), 'Content-Length = app_size')
  t.notOk(bin.headers['transfer-encoding'], 'never chunked')
  t.ok(bin.pieces.length >= Math.floor(m.appSize / 4096) && bin.pieces.every((n) => n <= 4096), 'read in 4 KiB pieces')
  t.equal(md5(bin.body), m.appMd5, 'the MD5 the firmware checks')
  t.equal(bin.body[0], 0xe9)
  t.equal(bin.headers['cache-control'], 'no-cache', 'a root path whose bytes change with each release is revalidated')

  const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.request({ host: '127.0.0.1', port: server.port, path: '/firmware.app.bin', method: 'HEAD', agent: false }, (res) => {
      res.resume()
      resolve(res)
    }).on('error', reject).end()
  })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(m.appSize), 'HEAD gives the size')
})

t.test('the legacy board and channel come from OTA_LEGACY_BOARD / OTA_LEGACY_CHANNEL', async (t) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_LEGACY_CHANNEL: 'field' })
  await publishRelease(server, { version: 'mason', sequence: 1 })
  t.equal((await fieldGet(server, '/firmware.json')).status, 404, 'stable is not the legacy channel here')
  const field = await publishRelease(server, { version: 'leafcutter', sequence: 2, channel: 'field' })
  const m = parseFieldManifest((await fieldGet(server, '/firmware.json')).body)
  t.equal(m.version, 'leafcutter')
  t.equal(md5((await fieldGet(server, '/firmware.app.bin')).body), field.md5)
})

t.test('a release over the firmware\'s 1,900,000-byte app_size limit is not advertised to the field fleet', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  // Fits the esp32cam slot (1,966,080) but not the field firmware's parser.
  const big = buildEspImage({ version: 'bigbee', size: 1_930_000, seed: 1 })
  t.ok(big.length > 1_900_000 && big.length <= 1_966_080, `image of ${big.length} bytes`)
  await publishRelease(server, { version: 'bigbee', sequence: 1, image: big })
  t.equal((await fieldGet(server, '/firmware.json')).status, 404, 'nothing that fits: 404, which the firmware reads as no update')
  t.equal((await fieldGet(server, '/firmware.app.bin')).status, 404)

  const small = await publishRelease(server, { version: 'mason', sequence: 2 })
  const bigger = await publishRelease(server, { version: 'bumblebee', sequence: 3, image: buildEspImage({ version: 'bumblebee', size: 1_930_000, seed: 3 }) })
  const m = parseFieldManifest((await fieldGet(server, '/firmware.json')).body)
  t.equal(m.version, 'mason', 'the newest release that fits keeps being offered')
  t.equal(md5((await fieldGet(server, '/firmware.app.bin')).body), small.md5, 'and served')
  const manifest = (await (await fetch(`${server.url}/v1/manifest?board=esp32cam`)).json()) as { version: string; size: number }
  t.same({ version: manifest.version, size: manifest.size }, { version: 'bumblebee', size: bigger.image.length }, 'devices on the signed manifest get the big one')
})

t.test('passing over a release too large for the field firmware is logged, once', async (t) => {
  const proc = await startBuiltServer(t, tempDir(t), { ...FLEET_NO_DELTAS_ENV, OTA_LOG_LEVEL: 'info' })
  await publishRelease(proc, { version: 'mason', sequence: 1 })
  await publishRelease(proc, { version: 'bigbee', sequence: 2, image: buildEspImage({ version: 'bigbee', size: 1_930_000, seed: 2 }) })
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${proc.url}/firmware.json`)
    t.equal(parseFieldManifest(Buffer.from(await r.arrayBuffer())).version, 'mason')
  }
  const warnings = proc.lines().filter((l) => l.level === 40 && /bigbee/.test(String(l.msg)))
  t.equal(warnings.length, 1, 'one warning, not one per poll')
  t.match(warnings[0], { version: 'bigbee', offered: 'mason', msg: /larger than the 1900000 bytes the field firmware accepts: \/firmware.json keeps offering mason/ })
})

t.test('polls of /firmware.json are counted per address and user agent', async (t) => {
  // Through a trusted proxy, the address is the client's from X-Forwarded-For.
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_TRUST_PROXY: '127.0.0.1' })
  await publishRelease(server, { version: 'mason', sequence: 1 })
  const poll = (address: string, ua: string) => fieldGet(server, '/firmware.json', { 'x-forwarded-for': address, 'user-agent': ua })
  await poll('203.0.113.7', 'hivehive-ota/1.0')
  await poll('203.0.113.7', 'hivehive-ota/1.0')
  await poll('203.0.113.7', 'hivehive-ota/1.1')
  await poll('198.51.100.2', 'hivehive-ota/1.0')
  const db = new BetterSqlite3(databasePath(server.dataDir), { readonly: true })
  t.teardown(() => db.close())
  const rows = db
    .prepare('SELECT address, user_agent, polls FROM legacy_clients ORDER BY address, user_agent')
    .all() as Array<{ address: string; user_agent: string; polls: number }>
  t.same(rows, [
    { address: '198.51.100.2', user_agent: 'hivehive-ota/1.0', polls: 1 },
    { address: '203.0.113.7', user_agent: 'hivehive-ota/1.0', polls: 2 },
    { address: '203.0.113.7', user_agent: 'hivehive-ota/1.1', polls: 1 },
  ])
})

t.test('tried as a new user would: publish with curl, poll and download with curl', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const work = tempDir(t)
  const { token, keyId, privateKeyPem: privateKey } = await publisherOf(server)
  const image = buildEspImage({ version: 'mason', size: 200 * 1024, seed: 7 })
  const imageFile = path.join(work, 'firmware.bin')
  fs.writeFileSync(imageFile, image)
  const sha256 = crypto.createHash('sha256').update(image).digest('hex')
  const curl = (...args: string[]) => run('curl', ['-sS', '--fail-with-body', ...args], { maxBuffer: 8 * 1024 * 1024 })

  await curl('-X', 'PUT', '-H', `Authorization: Bearer ${token}`, '--data-binary', `@${imageFile}`, `${server.url}/v1/artifacts/${sha256}`)
  const commit = 'a'.repeat(40)
  const statement = buildReleaseStatement({ board: 'esp32cam', version: 'mason', sequence: 1, size: image.length, sha256, tag: 'prod-mason', commit })
  const signature = crypto.sign('sha256', Buffer.from(statement), { key: privateKey, dsaEncoding: 'der' }).toString('base64')
  const body = JSON.stringify({ board: 'esp32cam', version: 'mason', sequence: 1, sha256, tag: 'prod-mason', commit, signature, key_id: keyId })
  const created = await curl('-X', 'POST', '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', '-d', body, `${server.url}/v1/releases`)
  t.match(JSON.parse(created.stdout), { board: 'esp32cam', version: 'mason', sequence: 1 })

  const polled = await curl('-A', 'hivehive-ota/1.0', `${server.url}/firmware.json`)
  const m = parseFieldManifest(polled.stdout)
  t.equal(m.version, 'mason')
  const downloaded = path.join(work, 'downloaded.bin')
  await curl('-A', 'hivehive-ota/1.0', '-o', downloaded, `${server.url}/firmware.app.bin`)
  t.same(fs.readFileSync(downloaded), image, 'the same bytes as published')
  t.equal(md5(fs.readFileSync(downloaded)), m.appMd5)
})
