import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import ts from 'typescript'
import type { Manifest } from 'esp-web-tools/dist/const'
import { buildFactoryStatement } from '../src/release/factory-statement'
import type { WebInstallManifest } from '../src/schemas/web-install'
import { signStatement, type ReleaseKeyPair } from '../src/release/keys'
import { buildEspImage } from './support/esp-image-builder'
import { factoryImage, generatedBootloader, MIN_SPIFFS, partitionTableBinary, realEsp32Bootloader, type PartitionRow } from './support/factory-image-builder'
import { checkFieldResponse, parseFieldManifest } from './support/field-firmware'
import { admitted } from './support/device-credentials'
import { makeFirmwareRepo } from './support/git-repo'
import { operatorToken } from './support/rollouts'
import { FACTORY_BUILT_AT, releaseRequest, sha256Of, trustedKey, uploadAndPost, uploadArtifact, uploadFactory } from './support/publish'
import { cli, createToken, startServer, tempDir, type RunningServer } from './support/server'
import { call } from './support/http'
import { FLEET_ENV, FLEET_NO_DELTAS_ENV } from './support/env'

// First flash from the same gated release: `release publish --factory`, then /firmware.json,
// /firmware.bin and the ESP Web Tools manifest describe one build, readable from another origin.

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex')
const ORIGIN = 'https://hivehive.example'

/**
 * Whether TypeScript accepts each of `jsons` as esp-web-tools' `Manifest` (the type its installer
 * reads), checked on the bytes the server sent: the compiler's complaints about each, empty when
 * it accepts. One program for all of them (a program costs seconds: it reads the standard library).
 */
function manifestTypeErrors(t: { teardown(fn: () => unknown): void }, ...jsons: unknown[]): string[][] {
  const dir = tempDir(t, 'ota-gate-manifest-type-')
  const types = path.join(path.dirname(require.resolve('esp-web-tools/package.json')), 'dist', 'const')
  const files = jsons.map((json, i) => {
    const file = path.join(dir, `manifest-${i}.ts`)
    fs.writeFileSync(file, `import type { Manifest } from ${JSON.stringify(types)}\nexport const manifest: Manifest = ${JSON.stringify(json)}\n`)
    return file
  })
  const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022 })
  return files.map((file) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')))
}

// What the route's schema lets it send is an esp-web-tools Manifest (checked by `npm run typecheck`);
// manifestTypeErrors checks the bytes actually sent, at run time.
export const servedIsManifest = (served: WebInstallManifest): Manifest => served

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

/** Uploads `version`'s app and a factory image around it; returns both and the release request naming them. */
async function uploadWithFactory(server: RunningServer, token: string, key: ReleaseKeyPair, version: string, sequence: number) {
  const app = buildEspImage({ version, size: 150 * 1024, seed: sequence })
  await uploadArtifact(server, token, app)
  const { image, factory } = await uploadFactory(server, token, key, { version, app })
  return { app, image, body: { ...releaseRequest(key, { version, sequence, image: app }), factory } }
}

t.test('published with --factory: /firmware.json, /firmware.bin and the web-install manifest describe the same build', async (t) => {
  const repo = makeFirmwareRepo(t)
  repo.releaseCommit('mason', 1)
  repo.promote()
  repo.tag('prod-mason')
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const work = tempDir(t, 'ota-gate-build-')
  const keyFile = path.join(work, 'release.pem')
  t.equal((await cli(['keys', 'generate', '--out', keyFile], {})).code, 0)
  t.equal((await cli(['keys', 'trust', `${keyFile}.pub`, '--name', 'release manager'], { OTA_DATA_DIR: server.dataDir })).code, 0)
  const token = await createToken(server.dataDir, 'releaser')

  // The firmware's build: the app alone for OTA, and merge_bin's factory image around it.
  const app = buildEspImage({ version: 'mason', size: 400 * 1024, seed: 1 })
  const merged = factoryImage({ app, bootloader: realEsp32Bootloader() })
  fs.writeFileSync(path.join(work, 'firmware.app.bin'), app)
  fs.writeFileSync(path.join(work, 'firmware.bin'), merged)
  const publish = (args: string[]) =>
    cli(['release', 'publish', '--board', 'esp32cam', '--key', keyFile, '--server', server.url, '--token', token, ...args], {}, repo.dir)

  const r = await publish(['--file', path.join(work, 'firmware.app.bin'), '--factory', path.join(work, 'firmware.bin'), '--built-at', FACTORY_BUILT_AT])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, new RegExp(`factory:\\s+${merged.length} bytes, sha256 ${sha256Of(merged)}, md5 ${md5(merged)}, built ${FACTORY_BUILT_AT}`))
  t.match(r.stdout, /first flash:\s+first flash of esp32cam\/stable \(web installer, \/firmware.bin\) installs this release's factory image/)

  // /firmware.json, read as the field firmware reads it: the fields the seed's build writes, in its order.
  const json = await get(`${server.url}/firmware.json`, { 'user-agent': 'hivehive-ota/1.0' })
  t.equal(json.status, 200)
  checkFieldResponse(Object.fromEntries(json.headers), json.body)
  const field = parseFieldManifest(json.body)
  t.same(field.keys, ['version', 'md5', 'built_at', 'app_md5', 'app_size', 'sequence', 'allow_downgrade'])
  const doc = JSON.parse(json.body.toString()) as Record<string, unknown>
  t.same(doc, { version: 'mason', md5: md5(merged), built_at: FACTORY_BUILT_AT, app_md5: md5(app), app_size: app.length, sequence: 1, allow_downgrade: false })
  t.equal(json.headers.get('access-control-allow-origin'), '*', 'the homepage reads it from its own origin')

  // /firmware.bin: exactly the bytes whose MD5 /firmware.json gives, with ranges like every download.
  const bin = await get(`${server.url}/firmware.bin`, { origin: ORIGIN })
  t.equal(bin.status, 200)
  t.equal(bin.headers.get('content-length'), String(merged.length))
  t.equal(md5(bin.body), doc.md5, 'md5 is the MD5 of the bytes /firmware.bin serves')
  t.equal(bin.headers.get('access-control-allow-origin'), '*')
  t.equal(bin.headers.get('cache-control'), 'no-cache')
  const appPart = await get(`${server.url}/firmware.bin`, { range: 'bytes=65536-' })
  t.equal(appPart.status, 206)
  t.equal(appPart.headers.get('content-range'), `bytes 65536-${merged.length - 1}/${merged.length}`)
  t.ok(appPart.body.equals(app), 'from 0x10000 on: the release application /firmware.app.bin serves')
  t.ok((await get(`${server.url}/firmware.app.bin`)).body.equals(app))
  const head = await fetch(`${server.url}/firmware.bin`, { method: 'HEAD' })
  t.equal(head.headers.get('content-length'), String(merged.length), 'HEAD gives the size')

  // The ESP Web Tools manifest, read from another origin, naming the same bytes.
  const wi = await get(`${server.url}/v1/web-install/esp32cam/manifest.json`, { origin: ORIGIN })
  t.equal(wi.status, 200)
  t.equal(wi.headers.get('access-control-allow-origin'), '*')
  t.equal(wi.headers.get('content-length'), String(wi.body.length))
  const manifest = JSON.parse(wi.body.toString()) as Manifest
  t.same(manifest, {
    name: 'esp32cam',
    version: 'mason',
    new_install_prompt_erase: true,
    builds: [{ chipFamily: 'ESP32', parts: [{ path: `${server.url}/v1/factory/${sha256Of(merged)}.bin`, offset: 0 }] }],
  })
  const [served, unknownChip] = manifestTypeErrors(t, manifest, { ...manifest, builds: [{ chipFamily: 'ESP33', parts: [] }] })
  t.same(served, [], "esp-web-tools' Manifest type accepts what the server sent")
  t.not(unknownChip.length, 0, 'and would refuse a chip family it does not know')
  const part = await get(manifest.builds[0].parts[0].path, { origin: ORIGIN })
  t.equal(part.status, 200)
  t.equal(part.headers.get('access-control-allow-origin'), '*', 'the image it names is readable from that origin')
  t.equal(md5(part.body), doc.md5, 'the same bytes as /firmware.bin')
  t.equal((await get(`${server.url}/v1/web-install/esp32cam/manifest.json?channel=beta`)).status, 404, 'a channel without releases')

  const preflight = await fetch(`${server.url}/v1/factory/${sha256Of(merged)}.bin`, {
    method: 'OPTIONS',
    headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
  })
  t.equal(preflight.status, 204, 'a ranged read from another origin is preflighted')
  t.equal(preflight.headers.get('access-control-allow-origin'), '*')
  t.match(preflight.headers.get('access-control-allow-headers'), /Range/)
  t.match(preflight.headers.get('access-control-allow-methods'), /GET/)
  for (const url of ['/firmware.json', '/firmware.bin', '/v1/web-install/esp32cam/manifest.json']) {
    t.equal((await fetch(`${server.url}${url}`, { method: 'OPTIONS', headers: { origin: ORIGIN } })).status, 204, `OPTIONS ${url}`)
  }

  // The next release comes without a factory image: first flash stays on mason, and publish says so.
  repo.releaseCommit('leafcutter', 2)
  repo.promote()
  repo.tag('prod-leafcutter')
  const app2 = buildEspImage({ version: 'leafcutter', size: 400 * 1024, seed: 2 })
  fs.writeFileSync(path.join(work, 'leafcutter.bin'), app2)
  const r2 = await publish(['--file', path.join(work, 'leafcutter.bin'), '--json'])
  t.equal(r2.code, 0, r2.stderr)
  t.match(JSON.parse(r2.stdout), {
    status: 'published',
    release: { version: 'leafcutter', factory: null },
    first_flash: {
      this_release: false,
      release: { version: 'mason', sequence: 1, sha256: sha256Of(merged) },
      note: /this release has no factory image: first flash of esp32cam\/stable \(web installer, \/firmware.bin\) stays on mason \(sequence 1\)/,
    },
  })
  const json2 = parseFieldManifest((await get(`${server.url}/firmware.json`)).body)
  t.same(json2.keys, ['version', 'sequence', 'app_md5', 'app_size', 'allow_downgrade'], 'no md5 or built_at: the offered release has no factory image')
  t.equal(json2.version, 'leafcutter')
  t.equal(md5((await get(`${server.url}/firmware.bin`)).body), md5(merged), '/firmware.bin stays on the newest release that has one')
  const wi2 = JSON.parse((await get(`${server.url}/v1/web-install/esp32cam/manifest.json`)).body.toString()) as Manifest
  t.equal(wi2.version, 'mason', 'the web installer names the build it installs')

  // Re-running the first publish is a no-op; the same release with another factory image is refused.
  repo.git('checkout', '--quiet', 'prod-mason')
  const again = await publish(['--file', path.join(work, 'firmware.app.bin'), '--factory', path.join(work, 'firmware.bin'), '--built-at', FACTORY_BUILT_AT])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /already published/)
  const without = await publish(['--file', path.join(work, 'firmware.app.bin')])
  t.equal(without.code, 1)
  t.match(without.stderr, /already published with factory image .* never changed/)

  // A factory image the server would refuse is refused by the tool, before anything is uploaded.
  fs.writeFileSync(path.join(work, 'other.bin'), factoryImage({ app: app2 }))
  const stored = fs.readdirSync(path.join(server.dataDir, 'artifacts'), { recursive: true }).length
  const wrong = await publish(['--file', path.join(work, 'firmware.app.bin'), '--factory', path.join(work, 'other.bin')])
  t.equal(wrong.code, 1)
  t.match(wrong.stderr, /--factory: the server would refuse this factory image: factory_app_mismatch: the bytes in partition app0 at 0x10000/)
  t.equal(fs.readdirSync(path.join(server.dataDir, 'artifacts'), { recursive: true }).length, stored, 'nothing uploaded')
})

t.test('/firmware.bin and the web-install manifest before any factory image', async (t) => {
  const server = await startServer(t, FLEET_ENV)
  const none = await get(`${server.url}/firmware.bin`)
  t.equal(none.status, 404)
  t.equal(JSON.parse(none.body.toString()).error, 'no_release')
  t.equal(none.headers.get('access-control-allow-origin'), '*', 'errors are readable cross-origin too')
  t.equal(JSON.parse((await get(`${server.url}/v1/web-install/nope/manifest.json`)).body.toString()).error, 'no_release')
  const token = await createToken(server.dataDir, 'releaser')
  const key = await trustedKey(server)
  const answer = await uploadAndPost(server, token, key, { version: 'mason', sequence: 1, image: buildEspImage({ version: 'mason', seed: 4 }) })
  t.equal(answer.status, 201)
  t.match(answer.body.first_flash, { release: null, this_release: false, note: /has nothing to install \(404\) until a release carries one/ })
  const noFactory = await get(`${server.url}/firmware.bin`)
  t.same([noFactory.status, JSON.parse(noFactory.body.toString()).error], [404, 'no_factory_image'])
  t.match(JSON.parse((await get(`${server.url}/v1/web-install/esp32cam/manifest.json`)).body.toString()), { error: 'no_factory_image', message: /--factory/ })
})

t.test('POST /v1/releases refuses a damaged factory image, each with its own code, and records nothing', async (t) => {
  const server = await startServer(t, FLEET_ENV)
  const token = await createToken(server.dataDir, 'releaser')
  const key = await trustedKey(server)
  let sequence = 0

  /** Publishes the next release with the factory image `make` builds around its app (by default a good one). */
  async function attempt(
    make: (app: Buffer) => Buffer = (app) => factoryImage({ app }),
    options: { sign?: (statement: string) => string; builtAt?: string; upload?: boolean } = {}
  ) {
    sequence++
    const version = `bee${sequence}`
    const app = buildEspImage({ version, size: 200 * 1024, seed: sequence })
    const image = make(app)
    await uploadArtifact(server, token, app)
    if (options.upload !== false) await uploadArtifact(server, token, image)
    const body = releaseRequest(key, { version, sequence, image: app })
    const builtAt = options.builtAt ?? FACTORY_BUILT_AT
    const statement = buildFactoryStatement({ board: 'esp32cam', version, size: image.length, sha256: sha256Of(image), app_sha256: sha256Of(app), built_at: FACTORY_BUILT_AT })
    const signature = options.sign ? options.sign(statement) : signStatement(statement, key.privateKeyPem)
    const answer = await call(server, 'POST', '/v1/releases', token, { ...body, factory: { sha256: sha256Of(image), built_at: builtAt, signature } })
    const recorded = await fetch(`${server.url}/v1/releases/esp32cam/${version}`, { headers: { authorization: `Bearer ${token}` } })
    return { answer, recorded: recorded.status, app }
  }
  const around = (parts: Omit<Parameters<typeof factoryImage>[0], 'app'>) => (app: Buffer) => factoryImage({ app, ...parts })

  async function refused(what: string, make: (app: Buffer) => Buffer, code: string, message: RegExp) {
    const { answer, recorded } = await attempt(make)
    t.equal(answer.status, 422, what)
    t.equal(answer.body.error, code, what)
    t.match(answer.body.message, message, what)
    t.equal(recorded, 404, `${what}: no release recorded`)
  }

  const oneSlot: PartitionRow[] = [['nvs', 'data', 'nvs', 0x9000, 0x5000], ['otadata', 'data', 'ota', 0xe000, 0x2000], ['app0', 'app', 'ota_0', 0x10000, 0x3f0000]]
  const smallSlots: PartitionRow[] = [
    ['nvs', 'data', 'nvs', 0x9000, 0x5000],
    ['otadata', 'data', 'ota', 0xe000, 0x2000],
    ['app0', 'app', 'ota_0', 0x10000, 0x140000],
    ['app1', 'app', 'ota_1', 0x150000, 0x140000],
  ]
  const brokenMd5 = partitionTableBinary(MIN_SPIFFS)
  brokenMd5[4 * 32 + 20] ^= 0x20 // a letter of "spiffs" changed after the MD5 was written

  await refused('app bytes differ', () => factoryImage({ app: buildEspImage({ version: 'other', size: 200 * 1024, seed: 99 }) }), 'factory_app_mismatch', /differ from the release's application/)
  await refused('one OTA slot', around({ table: partitionTableBinary(oneSlot) }), 'factory_too_few_ota_slots', /at least two/)
  await refused('slots too small', around({ table: partitionTableBinary(smallSlots) }), 'factory_ota_slot_too_small', /smaller than the 1966080-byte slot of board esp32cam/)
  await refused('broken MD5 entry', around({ table: brokenMd5 }), 'factory_partition_table_md5_mismatch', /MD5 entry/)
  await refused('no otadata', around({ table: partitionTableBinary(MIN_SPIFFS.filter(([n]) => n !== 'otadata')) }), 'factory_no_otadata', /otadata/)
  await refused('not a partition table', around({ table: Buffer.alloc(0xc00, 0x11) }), 'factory_partition_table_invalid', /neither a partition/)
  await refused('bootloader of another chip', around({ bootloader: generatedBootloader('esp32s3') }), 'factory_bootloader_chip_mismatch', /board esp32cam is ESP32/)
  await refused('no bootloader', around({ bootloader: Buffer.alloc(0x100, 0xff) }), 'factory_bootloader_invalid', /at 0x1000/)
  await refused('bigger than flash', around({ flashSize: '2MB' }), 'factory_too_large_for_flash', /past the 2 MB/)

  const wrongKey = await attempt(undefined, { sign: (s) => signStatement(s.replace(FACTORY_BUILT_AT, '2020-01-01T00:00:00Z'), key.privateKeyPem) })
  t.match(wrongKey.answer, { status: 422, body: { error: 'factory_signature_invalid', message: /ota-gate factory image v1\nboard: esp32cam\nversion: bee10\n/ } })
  t.equal(wrongKey.recorded, 404)
  const otherKey: ReleaseKeyPair = await trustedKey(server, 'another key')
  const byOtherKey = await attempt(undefined, { sign: (s) => signStatement(s, otherKey.privateKeyPem) })
  t.match(byOtherKey.answer, { status: 422, body: { error: 'factory_signature_invalid', message: /the release's key/ } })
  const missing = await attempt(undefined, { upload: false })
  t.match(missing.answer, { status: 404, body: { error: 'artifact_not_found', message: /no factory image .* is stored/ } })
  const badTime = await attempt(undefined, { builtAt: '2026-02-30T10:00:00Z' })
  t.match(badTime.answer, { status: 400, body: { error: 'bad_request', message: /built_at/ } })

  const good = await attempt()
  t.equal(good.answer.status, 201, JSON.stringify(good.answer.body))
  t.match(good.answer.body, { factory: { built_at: FACTORY_BUILT_AT, app_offset: 0x10000, flash_size: 4 * 1024 * 1024 }, first_flash: { this_release: true } })
})

t.test('release verify --factory checks a factory image offline, as the server would', async (t) => {
  const work = tempDir(t)
  const app = buildEspImage({ version: 'mason', size: 300 * 1024, seed: 1 })
  fs.writeFileSync(path.join(work, 'app.bin'), app)
  fs.writeFileSync(path.join(work, 'merged.bin'), factoryImage({ app }))
  fs.writeFileSync(path.join(work, 'two-mb.bin'), factoryImage({ app, flashSize: '2MB' }))
  const verify = (factory: string, ...more: string[]) =>
    cli(['release', 'verify', '--board', 'esp32cam', '--file', 'app.bin', '--factory', factory, '--chip', 'esp32', '--slot-size', '1966080', ...more], {}, work)

  const ok = await verify('merged.bin')
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /first boot:\s+app0 at 0x10000 \(otadata\): the release's application, byte for byte/)
  t.match(ok.stdout, /flash:\s+4 MB/)
  const json = JSON.parse((await verify('merged.bin', '--json')).stdout) as { factory: { app_partition: { offset: number }; problems: string[] } }
  t.same([json.factory.app_partition.offset, json.factory.problems], [0x10000, []])

  const bad = await verify('two-mb.bin')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /the server would refuse this factory image: factory_too_large_for_flash: the partitions reach 0x400000, past the 2 MB/)
})

t.test('first flash follows the channel: never a release rolled back, nor one still rolling out', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const token = await createToken(server.dataDir, 'releaser')
  const ops = await operatorToken(server)
  const key = await trustedKey(server)
  const factories = new Map<string, Buffer>()
  async function publish(version: string, sequence: number, options: { factory: boolean; rolloutPercent?: number }) {
    const body: Record<string, unknown> = {}
    if (options.factory) {
      const uploaded = await uploadWithFactory(server, token, key, version, sequence)
      factories.set(version, uploaded.image)
      Object.assign(body, uploaded.body)
    } else {
      const app = buildEspImage({ version, size: 150 * 1024, seed: sequence })
      await uploadArtifact(server, token, app)
      Object.assign(body, releaseRequest(key, { version, sequence, image: app }))
    }
    if (options.rolloutPercent !== undefined) body.rollout_percent = options.rolloutPercent
    const answer = await call(server, 'POST', '/v1/releases', token, body)
    t.equal(answer.status, 201, JSON.stringify(answer.body))
    return answer.body as { first_flash: { release: { version: string } | null; this_release: boolean; note: string } }
  }
  const installed = async () => {
    const manifest = JSON.parse((await get(`${server.url}/v1/web-install/esp32cam/manifest.json`)).body.toString()) as Manifest
    const bin = md5((await get(`${server.url}/firmware.bin`)).body)
    t.equal(bin, md5(factories.get(manifest.version) as Buffer), `/firmware.bin and the manifest agree on ${manifest.version}`)
    return manifest.version
  }

  await publish('v1', 1, { factory: true })
  await publish('v2', 2, { factory: true })
  t.equal(await installed(), 'v2')
  t.equal((await call(server, 'POST', '/v1/rollouts/esp32cam/stable/rollback', ops, { to: 'v1' })).status, 200)
  t.equal(await installed(), 'v1', 'a rollback takes first flash back too')
  const v3 = await publish('v3', 3, { factory: false })
  t.match(v3.first_flash, { release: { version: 'v1' }, this_release: false, note: /stays on v1 \(sequence 1\)/ })
  t.equal(await installed(), 'v1', 'not v2, which was rolled back')
  const v4 = await publish('v4', 4, { factory: true, rolloutPercent: 10 })
  t.match(v4.first_flash, { release: { version: 'v1' }, this_release: false, note: /once its rollout reaches everyone/ })
  t.equal(await installed(), 'v1', 'a release reaching 10% of devices is not installed on new modules yet')
  t.equal((await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 100 })).status, 200)
  t.equal(await installed(), 'v4')
})

t.test('OTA_DEVICE_AUTH=required: the browser installer needs no device token, an application binary still does', async (t) => {
  const server = await startServer(t, { ...FLEET_ENV, OTA_DEVICE_AUTH: 'required' })
  const token = await createToken(server.dataDir, 'releaser')
  const key = await trustedKey(server)
  const { app, image, body } = await uploadWithFactory(server, token, key, 'mason', 1)
  t.equal((await call(server, 'POST', '/v1/releases', token, body)).status, 201)

  // What ESP Web Tools does from the homepage: the manifest, then the image it names, no token.
  const wi = await get(`${server.url}/v1/web-install/esp32cam/manifest.json`, { origin: ORIGIN })
  t.equal(wi.status, 200)
  const path = (JSON.parse(wi.body.toString()) as Manifest).builds[0].parts[0].path
  t.equal(path, `${server.url}/v1/factory/${sha256Of(image)}.bin`)
  const part = await get(path, { origin: ORIGIN })
  t.equal(part.status, 200, 'the image the manifest names answers without a device token')
  t.ok(part.body.equals(image), 'the factory image, byte for byte')
  t.equal(part.headers.get('access-control-allow-origin'), '*')
  t.equal(part.headers.get('etag'), `"${sha256Of(image)}"`)
  const tail = await get(path, { range: 'bytes=-16' })
  t.equal(tail.status, 206, 'resumable like every binary')
  t.ok(tail.body.equals(image.subarray(-16)))
  t.equal((await fetch(path, { method: 'OPTIONS', headers: { origin: ORIGIN } })).status, 204, 'preflight')
  const bin = await get(`${server.url}/firmware.bin`)
  t.equal(bin.status, 200, '/firmware.bin, the homepage wizard\'s path, too')
  t.ok(bin.body.equals(image))

  // The application binary is not public: /v1/factory/ serves factory images only, /v1/firmware/ asks for a token.
  const appByFactory = await get(`${server.url}/v1/factory/${sha256Of(app)}.bin`)
  t.equal(appByFactory.status, 404)
  t.match(JSON.parse(appByFactory.body.toString()), { error: 'not_found', message: /no release has a factory image/ })
  t.equal((await get(`${server.url}/v1/factory/not-a-digest.bin`)).status, 404)
  for (const sha256 of [sha256Of(app), sha256Of(image)]) {
    const gated = await get(`${server.url}/v1/firmware/${sha256}.bin`)
    t.equal(gated.status, 401, `/v1/firmware/${sha256.slice(0, 8)}….bin without a token`)
    t.equal(JSON.parse(gated.body.toString()).error, 'device_token_required')
  }
  const { token: deviceToken } = await admitted(server, await operatorToken(server), 'a00000000042')
  const withToken = await get(`${server.url}/v1/firmware/${sha256Of(app)}.bin`, { authorization: `Bearer ${deviceToken}` })
  t.equal(withToken.status, 200, 'an enrolled device downloads it with its token')
  t.ok(withToken.body.equals(app))
})
