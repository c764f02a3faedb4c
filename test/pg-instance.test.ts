import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ARTIFACT_DISK_CACHE } from '../src/plugins/app/artifact-store'
import { SERVER_KEY_FILE } from '../src/manifest/server-key'
import { FLEET_ENV } from './support/env'
import { postgres, type PostgresCluster } from './support/postgres'
import { postgresPublisher, publishRelease } from './support/publish'
import { startServer, tempDir, type RunningServer, type TestContext } from './support/server'

// An instance with OTA_DATABASE_URL on a real PostgreSQL: binaries kept in the database and served
// with the download path's semantics, the one server key recorded there, and an outage answered
// with 503 within 2 s and recovered from without a restart.

/** An empty database: the instance applies the migrations at start. */
const database = (_t: TestContext, pg: PostgresCluster) => pg.createDatabase()

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  ms: number
}

function get(server: RunningServer, urlPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    http
      .get(`${server.url}${urlPath}`, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - started }))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

async function until(what: string, ok: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(20)
  }
}

t.test('binaries live in PostgreSQL and download as from files: ranges, If-Range, exact length; then from the disk copy', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const url = await database(t, pg)
  // Without the memory cache every download goes through the store.
  const server = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url, OTA_CACHE_BYTES: '0' })
  const publisher = await postgresPublisher(t, url)
  const { sha256, image } = await publishRelease(server, { version: 'v2', sequence: 2, imageSize: 700_000, publisher })
  const name = new URL(url).pathname.slice(1)
  const [blob] = await pg.query<{ size: string }>('SELECT size FROM artifact_blobs WHERE sha256 = $1', [sha256], name)
  t.equal(Number(blob.size), image.length, 'the upload is in the database')
  // Publishing read it to check the image, which left a copy on this instance's disk: the disk
  // cache is safe to delete, and then the first download comes from the database.
  const cache = path.join(server.dataDir, ARTIFACT_DISK_CACHE)
  const copy = path.join(cache, 'artifacts', sha256.slice(0, 2), `${sha256}.bin`)
  t.ok(fs.existsSync(copy), 'the instance that checked the upload keeps a disk copy')
  fs.rmSync(copy)

  const file = `/v1/firmware/${sha256}.bin`
  const part = await get(server, file, { range: 'bytes=300000-600000' })
  t.equal(part.status, 206)
  t.equal(part.headers['content-length'], '300001')
  t.equal(part.headers['content-range'], `bytes 300000-600000/${image.length}`)
  t.notOk(part.headers['transfer-encoding'], 'never chunked')
  t.same(part.body, image.subarray(300000, 600001))

  await until('the disk copy is made', () => fs.existsSync(copy), 5000)
  t.same(fs.readFileSync(copy), image, 'copied to disk under its digest')
  const resumed = await get(server, file, { range: 'bytes=690000-', 'if-range': `"${sha256}"` })
  t.same([resumed.status, resumed.body], [206, image.subarray(690000)], 'a resume with If-Range')
  const changed = await get(server, file, { range: 'bytes=0-9', 'if-range': '"another"' })
  t.same([changed.status, changed.headers['content-length'], changed.body], [200, String(image.length), image], 'If-Range of other bytes: the whole binary')
})

t.test('one server key for every instance: the database records the first, an instance with another refuses to start', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const url = await database(t, pg)
  const first = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url })
  const keyFile = path.join(first.dataDir, SERVER_KEY_FILE)
  const firstKey = ((await (await fetch(`${first.url}/v1/keys`)).json()) as { server: { key_id: string } }).server.key_id

  // A second host started without the key: it makes its own, which is not the recorded one.
  await t.rejects(
    startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url }),
    new RegExp(`is not the one the database records for signing manifests \\(key id ${firstKey}.*same OTA_SERVER_KEY`)
  )
  const second = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url, OTA_SERVER_KEY: keyFile }, { dataDir: tempDir(t) })
  const secondKey = ((await (await fetch(`${second.url}/v1/keys`)).json()) as { server: { key_id: string } }).server.key_id
  t.equal(secondKey, firstKey, 'given the same key, it starts and signs with it')
})

t.test('PostgreSQL down: /healthz and device downloads answer 503 (with Retry-After) within 2 s, and recover by themselves', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const url = await database(t, pg)
  const server = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url, OTA_CACHE_BYTES: '0' })
  const { sha256, image } = await publishRelease(server, { version: 'v2', sequence: 2, publisher: await postgresPublisher(t, url) })
  t.equal((await get(server, '/healthz')).status, 200)

  // This instance's disk copy (made when publishing checked the image) gone: the bytes are only in the database.
  fs.rmSync(path.join(server.dataDir, ARTIFACT_DISK_CACHE, 'artifacts', sha256.slice(0, 2), `${sha256}.bin`))
  pg.stop()
  t.teardown(() => pg.start())
  const health = await get(server, '/healthz')
  t.equal(health.status, 503, '/healthz: 503')
  t.ok(health.ms < 2000, `within 2 s (${health.ms} ms)`)
  const download = await get(server, `/v1/firmware/${sha256}.bin`)
  t.equal(download.status, 503, 'a download needing the database: 503')
  t.ok(download.ms < 2000, `within 2 s (${download.ms} ms)`)
  t.equal(download.headers['retry-after'], '10')
  t.equal(JSON.parse(download.body.toString()).error, 'database_unavailable')

  const pollPath = '/v1/manifest?board=esp32cam&device=aabbccddee01&version=v1&sequence=1'
  const polled = await get(server, pollPath)
  t.equal(polled.status, 503, 'a manifest poll (its check-in cannot be recorded): 503')
  t.ok(polled.ms < 2000, `within 2 s (${polled.ms} ms)`)
  t.equal(polled.headers['retry-after'], '10')

  pg.start()
  await until('/healthz answers 200 again', async () => (await get(server, '/healthz')).status === 200, 15_000)
  const again = await get(server, `/v1/firmware/${sha256}.bin`)
  t.same([again.status, again.body], [200, image], 'downloads work again, no restart')
  t.equal((await get(server, pollPath)).status, 200, 'and polls')
})
