import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { eachBackend } from './support/backends'
import { databasePath } from '../src/db/open'
import { buildReleaseStatement } from '../src/release/release-statement'
import { publishRelease } from './support/publish'
import { TestClock } from './support/clock'
import { buildApp, cli, startServer, tempDir, type RunningServer, type TestApp, dataFolderEnv } from './support/server'
import { FLEET_NO_DELTAS_ENV } from './support/env'
import { injectGet, rawGet, type RawAnswer } from './support/raw-http'


/**
 * A GET with exactly the headers the test gives: on the server's port where the socket matters
 * (the listening address, Content-Length and chunking on the wire), through inject elsewhere.
 */
const get = (server: RunningServer | TestApp, pathAndQuery: string, headers: Record<string, string> = {}) =>
  'port' in server ? rawGet(server.port, pathAndQuery, headers) : injectGet(server.app, pathAndQuery, headers)

const json = (r: RawAnswer) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>

interface KeysView {
  server: { key_id: string; public_key_pem: string }
  release: Array<{ key_id: string; public_key_pem: string; name: string; retired: boolean }>
}

async function serverKeyOf(server: RunningServer | TestApp): Promise<KeysView['server']> {
  return (json(await get(server, '/v1/keys')) as unknown as KeysView).server
}

const keyIdOfPem = (pem: string) =>
  crypto.createHash('sha256').update(crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)

interface DeviceRow {
  device: string
  board: string
  channel: string
  version: string
  sequence: number
  address: string
  user_agent: string | null
  last_offered: number | null
}

/** The devices table as committed, read by a separate connection to the server's database file. */
function deviceRows(dataDir: string): DeviceRow[] {
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: true })
  try {
    return db
      .prepare('SELECT device, board, channel, version, sequence, address, user_agent, last_offered FROM devices ORDER BY device')
      .all() as DeviceRow[]
  } finally {
    db.close()
  }
}

const MANIFEST_FIELDS = [
  'board', 'channel', 'version', 'sequence', 'size', 'sha256', 'md5', 'url', 'tag', 'commit',
  'release_signature', 'release_key_id', 'allow_downgrade', 'issued_at', 'expires_at',
]
const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

t.test('the generated server key: one P-256 key, 0600, published by /v1/keys, the same after a restart', async (t) => {
  const dataDir = tempDir(t)
  const first = await buildApp(t, FLEET_NO_DELTAS_ENV, { dataDir: dataDir })
  const key = await serverKeyOf(first)
  t.match(key.key_id, /^[0-9a-f]{16}$/)
  t.equal(key.key_id, keyIdOfPem(key.public_key_pem), 'key id is the first 16 hex of the SHA-256 of the DER SPKI')
  const pub = crypto.createPublicKey(key.public_key_pem)
  t.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  const file = path.join(dataDir, 'keys', 'server-key.pem')
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'the private key file is readable by the owner only')
  t.same(fs.readdirSync(path.dirname(file)), ['server-key.pem'], 'no temporary file left behind')
  await first.close()

  const second = await buildApp(t, FLEET_NO_DELTAS_ENV, { dataDir: dataDir })
  t.equal((await serverKeyOf(second)).key_id, key.key_id, 'the key persists across a restart')
})

t.test('OTA_SERVER_KEY given as a PEM and as a path is the key used; a key not on P-256 stops the start', async (t) => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const expected = keyIdOfPem(publicKey.export({ type: 'spki', format: 'pem' }).toString())

  const byPem = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_SERVER_KEY: pem })
  t.equal((await serverKeyOf(byPem)).key_id, expected, 'PEM in the variable')
  t.notOk(fs.existsSync(path.join(byPem.dataDir, 'keys', 'server-key.pem')), 'no key is generated when one is configured')

  const oneLine = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_SERVER_KEY: pem.trim().replace(/\n/g, '\\n') })
  t.equal((await serverKeyOf(oneLine)).key_id, expected, 'PEM on one line with \\n for its line breaks, as an environment file holds it')

  const file = path.join(tempDir(t), 'server.pem')
  fs.writeFileSync(file, pem, { mode: 0o600 })
  const byPath = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_SERVER_KEY: file })
  t.equal((await serverKeyOf(byPath)).key_id, expected, 'path in the variable')

  const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  await t.rejects(buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_SERVER_KEY: p384 }), /OTA_SERVER_KEY.*P-256/)
  await t.rejects(buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_SERVER_KEY: path.join(tempDir(t), 'missing.pem') }), /OTA_SERVER_KEY.*missing\.pem/)
  await t.rejects(buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_SERVER_KEY: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n' }), /OTA_SERVER_KEY/)
})

eachBackend(t, 'no release: 404 no_release, for a known board and for an unknown one', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const known = await get(server, '/v1/manifest?board=esp32cam')
  t.equal(known.status, 404)
  t.same(json(known).error, 'no_release')
  t.match(json(known).message, /esp32cam.*stable/)
  const unknown = await get(server, '/v1/manifest?board=nosuchboard&channel=beta')
  t.equal(unknown.status, 404)
  t.same(json(unknown).error, 'no_release')
  t.match(json(unknown).message, /nosuchboard/)
})

eachBackend(t, 'malformed parameters: 400 naming the parameter', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const cases: Array<[string, RegExp]> = [
    ['/v1/manifest', /board/],
    ['/v1/manifest?board=ESP32%20CAM', /board/],
    ['/v1/manifest?board=esp32cam&channel=Beta!', /channel/],
    ['/v1/manifest?board=esp32cam&device=aa:bb:cc:dd:ee&version=mason&sequence=3', /device/],
    ['/v1/manifest?board=esp32cam&device=aabbccddeeff&version=mason&sequence=three', /sequence/],
    ['/v1/manifest?board=esp32cam&device=aabbccddeeff&version=mason&sequence=-1', /sequence/],
    ['/v1/manifest?board=esp32cam&device=aabbccddeeff&version=has%20space&sequence=1', /version/],
    ['/v1/manifest?board=esp32cam&device=aabbccddeeff', /version and sequence are required with device/],
    ['/v1/manifest?board=esp32cam&device=aabbccddeeff&version=mason', /version and sequence are required with device/],
  ]
  for (const [url, message] of cases) {
    const r = await get(server, url)
    t.equal(r.status, 400, url)
    t.equal(json(r).error, 'bad_request', url)
    t.match(json(r).message, message, url)
  }
})

eachBackend(t, 'a manifest: fields, size, signatures, url, one signature per window, ETag', async (t, backend) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const published = await publishRelease(server, { version: 'mason', sequence: 12 })
  const r = await get(server, '/v1/manifest?board=esp32cam&device=AA:BB:CC:DD:EE:01&version=carpenter&sequence=11')
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^application\/json/)
  t.equal(r.headers['content-length'], String(r.body.length), 'Content-Length is exact')
  t.notOk(r.headers['transfer-encoding'], 'never chunked')
  t.ok(r.body.length <= 1024, `${r.body.length} bytes, at most 1024`)

  const m = json(r)
  t.same(Object.keys(m), MANIFEST_FIELDS, 'exactly the contract fields')
  t.equal(m.board, 'esp32cam')
  t.equal(m.channel, 'stable')
  t.equal(m.version, 'mason')
  t.equal(m.sequence, 12)
  t.equal(m.size, published.image.length)
  t.equal(m.sha256, published.sha256)
  t.equal(m.md5, published.md5)
  t.equal(m.tag, 'prod-mason')
  t.equal(m.commit, published.release.commit)
  t.equal(m.release_key_id, published.publisher.keyId)
  t.equal(m.allow_downgrade, false)
  t.match(m.issued_at, ISO_SECONDS)
  t.match(m.expires_at, ISO_SECONDS)
  t.equal(Date.parse(m.expires_at as string) - Date.parse(m.issued_at as string), server.config.OTA_MANIFEST_TTL * 1000)
  t.ok(Math.abs(Date.parse(m.issued_at as string) - Date.now()) < 5000, 'issued now')
  t.equal(m.url, `${server.url}/v1/firmware/${published.sha256}.bin`, 'absolute url from the Host header')

  // The server signature, checked with the key /v1/keys publishes, over exactly the bytes received.
  const keys = json(await get(server, '/v1/keys')) as unknown as KeysView
  t.equal(r.headers['x-ota-key-id'], keys.server.key_id)
  const signature = Buffer.from(r.headers['x-ota-signature'] as string, 'base64')
  t.ok(crypto.verify('sha256', r.body, { key: keys.server.public_key_pem, dsaEncoding: 'der' }, signature), 'X-OTA-Signature verifies')
  const tampered = Buffer.from(r.body)
  tampered[tampered.indexOf('mason')] = 'M'.charCodeAt(0)
  t.notOk(crypto.verify('sha256', tampered, { key: keys.server.public_key_pem, dsaEncoding: 'der' }, signature), 'and only over those bytes')

  // The release signature, over the statement rebuilt from the manifest alone, with the release key /v1/keys lists.
  const releaseKey = keys.release.find((k) => k.key_id === m.release_key_id)
  t.ok(releaseKey, 'the release key is listed')
  t.equal(releaseKey?.retired, false)
  const statement = buildReleaseStatement({
    board: m.board as string,
    version: m.version as string,
    sequence: m.sequence as number,
    size: m.size as number,
    sha256: m.sha256 as string,
    tag: m.tag as string,
    commit: m.commit as string,
  })
  t.ok(
    crypto.verify('sha256', Buffer.from(statement), { key: releaseKey?.public_key_pem ?? '', dsaEncoding: 'der' }, Buffer.from(m.release_signature as string, 'base64')),
    'release_signature verifies over the rebuilt statement'
  )

  // The url serves the bytes published.
  const bin = await fetch(m.url as string)
  t.equal(bin.status, 200)
  t.same(Buffer.from(await bin.arrayBuffer()), published.image)

  // Signed once per window: another device, another poll, the same bytes and signature.
  const again = await get(server, '/v1/manifest?board=esp32cam&device=aabbccddee02&version=mason&sequence=12')
  t.equal(again.status, 200)
  t.same(again.body, r.body, 'identical body (same issued_at)')
  t.equal(again.headers['x-ota-signature'], r.headers['x-ota-signature'], 'identical signature')
  const anonymous = await get(server, '/v1/manifest?board=esp32cam')
  t.same(anonymous.body, r.body, 'a poll that names no device gets the same manifest')

  // ETag and If-None-Match.
  const etag = r.headers.etag as string
  t.match(etag, /^"[^"]+"$/, 'a strong ETag')
  const notModified = await get(server, '/v1/manifest?board=esp32cam&device=aabbccddee01&version=carpenter&sequence=11', { 'if-none-match': etag })
  t.equal(notModified.status, 304)
  t.equal(notModified.body.length, 0)
  t.equal(notModified.headers.etag, etag)
  t.same(
    [notModified.headers['content-type'], notModified.headers['content-length'], notModified.headers['transfer-encoding']],
    [undefined, undefined, undefined],
    'a 304 has no body: no JSON type, no Content-Length: 4 of a serialised null, never chunked'
  )
  const other = await get(server, '/v1/manifest?board=esp32cam', { 'if-none-match': '"something-else"' })
  t.equal(other.status, 200)

  // A new release changes the manifest at once.
  await publishRelease(server, { version: 'leafcutter', sequence: 13 })
  const newer = await get(server, '/v1/manifest?board=esp32cam', { 'if-none-match': etag })
  t.equal(newer.status, 200)
  t.equal(json(newer).version, 'leafcutter')
  t.not(newer.headers.etag, etag)
})

eachBackend(t, 'channels: each has its own newest release; another channel has none', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  await publishRelease(server, { version: 'mason', sequence: 1 })
  await publishRelease(server, { version: 'mason-beta', sequence: 2, channel: 'beta' })
  t.equal(json(await get(server, '/v1/manifest?board=esp32cam')).version, 'mason')
  const beta = json(await get(server, '/v1/manifest?board=esp32cam&channel=beta'))
  t.equal(beta.version, 'mason-beta')
  t.equal(beta.channel, 'beta')
  t.equal((await get(server, '/v1/manifest?board=esp32cam&channel=nightly')).status, 404)
})

eachBackend(t, 'url: from OTA_PUBLIC_URL when set, else a Host listed in OTA_ALLOWED_HOSTS, else the address the request came in on', async (t, backend) => {
  const configured = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_PUBLIC_URL: 'https://ota.example.com/gate/', ...(await backend.serverEnv(t)) })
  const { sha256 } = await publishRelease(configured, { version: 'mason', sequence: 1 })
  const m = json(await get(configured, '/v1/manifest?board=esp32cam', { host: 'other.example.net' }))
  t.equal(m.url, `https://ota.example.com/gate/v1/firmware/${sha256}.bin`)

  const direct = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_ALLOWED_HOSTS: 'ota.lan:8080, OTA.lan', ...(await backend.serverEnv(t)) })
  const d = await publishRelease(direct, { version: 'mason', sequence: 1 })
  const byHost = json(await get(direct, '/v1/manifest?board=esp32cam', { host: 'ota.lan:8080' }))
  t.equal(byHost.url, `http://ota.lan:8080/v1/firmware/${d.sha256}.bin`, 'a listed Host')
  const spoofed = json(await get(direct, '/v1/manifest?board=esp32cam', { host: 'ota.lan', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }))
  t.equal(spoofed.url, `http://ota.lan/v1/firmware/${d.sha256}.bin`, 'X-Forwarded-* ignored without a trusted proxy')
  const listening = `http://127.0.0.1:${direct.port}/v1/firmware/${d.sha256}.bin`
  for (const host of ['evil.example', 'ota.lan:9999', 'bad host/with"quote', 'x'.repeat(300)]) {
    const res = await get(direct, '/v1/manifest?board=esp32cam', { host })
    t.equal(res.status, 200, `Host ${host.slice(0, 40)}: answered`)
    t.equal(json(res).url, listening, `Host ${host.slice(0, 40)}: not followed, the listening address instead`)
  }
  // A thousand made-up names are one manifest, signed once: the signature cache is not theirs to
  // fill. Asked through inject (the Host header is what matters, not the socket), 50 at a time.
  const etags = new Set<string>()
  for (let i = 0; i < 1000; i += 50) {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, k) => injectGet(direct.app, '/v1/manifest?board=esp32cam', { host: `h${i + k}.example` })))
    for (const a of answers) etags.add(String(a.headers.etag))
  }
  t.equal(etags.size, 1, 'one ETag for every unlisted Host')

  const proxied = await startServer(t, { ...FLEET_NO_DELTAS_ENV, OTA_TRUST_PROXY: '127.0.0.1', OTA_ALLOWED_HOSTS: 'ota.example.com', ...(await backend.serverEnv(t)) })
  const p = await publishRelease(proxied, { version: 'mason', sequence: 1 })
  const viaProxy = json(await get(proxied, '/v1/manifest?board=esp32cam', { host: 'backend:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'ota.example.com' }))
  t.equal(viaProxy.url, `https://ota.example.com/v1/firmware/${p.sha256}.bin`)
  const proxiedSpoof = json(await get(proxied, '/v1/manifest?board=esp32cam', { host: 'backend:8080', 'x-forwarded-host': 'evil.example' }))
  t.equal(proxiedSpoof.url, `http://127.0.0.1:${proxied.port}/v1/firmware/${p.sha256}.bin`, 'an unlisted forwarded host is not followed either')
})

eachBackend(t, 'issuance windows: re-signed once the window passes, expires_at = issued_at + OTA_MANIFEST_TTL', async (t, backend) => {
  // A 2 s TTL gives a 1 s window (never more than half the TTL); the test moves the server's clock.
  const clock = new TestClock()
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_MANIFEST_TTL: '2', ...(await backend.serverEnv(t)) }, { clock })
  await publishRelease(server, { version: 'mason', sequence: 1 })
  const first = await get(server, '/v1/manifest?board=esp32cam')
  const m1 = json(first)
  t.equal(Date.parse(m1.expires_at as string) - Date.parse(m1.issued_at as string), 2000)
  clock.advance(999)
  t.equal((await get(server, '/v1/manifest?board=esp32cam')).headers.etag, first.headers.etag, 'within the window: the same signed manifest')
  clock.advance(1)
  const second = await get(server, '/v1/manifest?board=esp32cam')
  const m2 = json(second)
  t.equal(Date.parse(m2.issued_at as string) - Date.parse(m1.issued_at as string), 1000, 'issued a window later')
  t.not(second.headers.etag, first.headers.etag, 'and a new ETag')
  t.equal((await get(server, '/v1/manifest?board=esp32cam', { 'if-none-match': first.headers.etag as string })).status, 200, 'the old ETag no longer matches')
})

// Reads the SQLite file: the check-in rows on PostgreSQL are checked in checkins.test.ts.
t.test('check-ins: every call naming a device is recorded, with what the answer offered', async (t) => {
  const server = await buildApp(t, FLEET_NO_DELTAS_ENV)
  const { release } = await publishRelease(server, { version: 'mason', sequence: 12 })
  const poll = (query: string) => get(server, `/v1/manifest?${query}`, { 'user-agent': 'esp-idf-client/5.2' })
  t.equal((await poll('board=esp32cam&device=AA-BB-CC-DD-EE-10&version=carpenter&sequence=11')).status, 200)
  t.equal((await poll('board=esp32cam&device=aabbccddee11&version=mason&sequence=12')).status, 200)
  t.equal((await poll('board=esp32cam&device=aa:bb:cc:dd:ee:12&version=homebuilt&sequence=0')).status, 200, 'sequence 0 is accepted')
  t.equal((await poll('board=esp32cam')).status, 200, 'a poll without a device records nothing')
  t.equal((await poll('board=esp32cam&channel=nightly&device=aabbccddee13&version=mason&sequence=12')).status, 404)
  t.equal((await poll('board=nosuchboard&device=aabbccddee14&version=mason&sequence=12')).status, 404)
  const base = { board: 'esp32cam', address: '127.0.0.1', user_agent: 'esp-idf-client/5.2' }
  t.match(deviceRows(server.dataDir), [
    { ...base, device: 'aabbccddee10', channel: 'stable', version: 'carpenter', sequence: 11, last_offered: release.id },
    { ...base, device: 'aabbccddee11', channel: 'stable', version: 'mason', sequence: 12, last_offered: null },
    { ...base, device: 'aabbccddee12', channel: 'stable', version: 'homebuilt', sequence: 0, last_offered: null },
    { ...base, device: 'aabbccddee13', channel: 'nightly', version: 'mason', sequence: 12, last_offered: null },
  ])
  t.equal(deviceRows(server.dataDir).length, 4, 'nothing for an unknown board')
})

eachBackend(t, 'every field at its longest still fits in 1024 bytes; a public URL that could not fit stops the start', async (t, backend) => {
  const publicUrl = `https://${'o'.repeat(95)}.example.com/gate`
  t.equal(publicUrl.length, 120)
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_PUBLIC_URL: publicUrl, ...(await backend.serverEnv(t)) })
  const board = 'b'.repeat(32)
  t.equal((await cli(['board', 'add', board, '--chip', 'esp32', '--slot-size', '1966080'], dataFolderEnv(server.dataDir))).code, 0)
  const channel = 'c'.repeat(32)
  const version = 'V'.repeat(31)
  const tag = `prod-${'t'.repeat(195)}`
  await publishRelease(server, { board, channel, version, sequence: 4294967295, tag })
  const r = await get(server, `/v1/manifest?board=${board}&channel=${channel}&device=aabbccddeeff&version=${version}&sequence=4294967295`)
  t.equal(r.status, 200)
  t.ok(r.body.length <= 1024, `${r.body.length} bytes`)
  t.match(json(r), { board, channel, version, sequence: 4294967295, tag })
  const keys = json(await get(server, '/v1/keys')) as unknown as KeysView
  t.ok(crypto.verify('sha256', r.body, { key: keys.server.public_key_pem, dsaEncoding: 'der' }, Buffer.from(r.headers['x-ota-signature'] as string, 'base64')))

  await t.rejects(buildApp(t, { ...FLEET_NO_DELTAS_ENV, OTA_PUBLIC_URL: `${publicUrl}x`, ...(await backend.serverEnv(t)) }), /OTA_PUBLIC_URL is 121 characters/)
  const longHost = await get(server, `/v1/manifest?board=${board}&channel=${channel}`, { host: `${'h'.repeat(120)}.example` })
  t.equal(longHost.status, 200, 'with OTA_PUBLIC_URL set, the Host header plays no part')
})
