import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool } from 'pg'
import t from 'tap'
import { TestClock } from './support/clock'
import { migratePostgres, openPostgres } from '../src/db/postgres'
import { ArtifactCache } from '../src/store/artifact-cache'
import { ArtifactTooLarge, DigestMismatch } from '../src/store/artifact-store'
import { DiskCachedArtifactStore } from '../src/store/disk-cached-artifact-store'
import { FsArtifactStore } from '../src/store/fs-artifact-store'
import { CHUNK_BYTES, PgArtifactStore } from '../src/store/pg-artifact-store'
import { postgres, type PostgresCluster } from './support/postgres'
import { tempDir, type TestContext } from './support/server'

// Release binaries in a real PostgreSQL: chunked, streamed in and out, every instance on the
// database serving every binary, each with its own copy on disk and in memory.

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex')

async function database(t: TestContext, pg: PostgresCluster): Promise<Pool> {
  const url = await pg.createDatabase()
  const pool = openPostgres({ url, pool: 4 })
  t.teardown(() => pool.end())
  await migratePostgres(pool)
  return pool
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

/** What `promise` rejects with (undefined when it resolves). */
const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (err: unknown) => err)

async function count(pool: Pool, table: string): Promise<number> {
  return Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
}

t.test('put: chunked rows, kept only when the digest matches, once per digest', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const pool = await database(t, pg)
  const store = new PgArtifactStore(pool, new TestClock())
  const image = randomBytes(3 * CHUNK_BYTES + 12_345)
  const sha = sha256(image)

  // In pieces that do not line up with the chunks, as a network body arrives.
  const pieces = [image.subarray(0, 1000), image.subarray(1000, CHUNK_BYTES + 7), image.subarray(CHUNK_BYTES + 7)]
  t.same(await store.put(sha, Readable.from(pieces), 16 << 20), { sha256: sha, md5: md5(image), size: image.length, created: true })
  const chunks = (await pool.query<{ seq: number; n: number }>('SELECT seq, length(data) AS n FROM artifact_chunks WHERE sha256 = $1 ORDER BY seq', [sha])).rows
  t.same(chunks, [
    { seq: 0, n: CHUNK_BYTES },
    { seq: 1, n: CHUNK_BYTES },
    { seq: 2, n: CHUNK_BYTES },
    { seq: 3, n: 12_345 },
  ])
  t.equal(await store.size(sha), image.length)
  t.same(await store.read(sha), image)

  const again = await store.put(sha, Readable.from([image]), 16 << 20)
  t.equal(again.created, false, 'the same bytes again: already stored')
  t.equal(await count(pool, 'artifact_chunks'), 4, 'and not written twice')

  const other = randomBytes(50_000)
  t.ok((await failure(store.put(sha256(randomBytes(8)), Readable.from([other]), 16 << 20))) instanceof DigestMismatch, 'refused: DigestMismatch')
  t.ok((await failure(store.put(sha256(other), Readable.from([other]), 10_000))) instanceof ArtifactTooLarge, 'refused: ArtifactTooLarge')
  t.ok((await failure(store.put(sha, Readable.from([other]), 16 << 20))) instanceof DigestMismatch, 'a wrong body under a stored digest is refused too')
  t.equal(await count(pool, 'artifact_blobs'), 1, 'nothing kept of the refused uploads')
  t.equal(await count(pool, 'artifact_chunks'), 4)
  t.equal(await store.size(sha256(other)), undefined)

  // Two uploads of the same new bytes at once: one creates it, the other finds it.
  const twin = randomBytes(CHUNK_BYTES + 1)
  const both = await Promise.all([0, 1].map(() => store.put(sha256(twin), Readable.from([twin]), 16 << 20)))
  t.same(both.map((r) => r.created).sort(), [false, true])

  await store.remove(sha)
  t.equal(await store.size(sha), undefined)
  t.equal(await count(pool, 'artifact_chunks'), 2, 'removed with its chunks')
})

t.test('put: chunks reach the database while the body is still arriving (never whole in memory)', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const pool = await database(t, pg)
  const store = new PgArtifactStore(pool, new TestClock())
  const image = randomBytes(12 << 20)
  const half = 6 << 20
  let sawRows = false
  async function* body() {
    for (let at = 0; at < half; at += 64 * 1024) yield image.subarray(at, at + 64 * 1024)
    // The body stops here until the table (its out-of-line storage, uncommitted rows included)
    // holds most of what was sent: a store that buffered the upload would never get there.
    for (let i = 0; i < 200 && !sawRows; i++) {
      const { rows } = await pool.query<{ n: string }>("SELECT pg_total_relation_size('artifact_chunks') AS n")
      sawRows = Number(rows[0].n) >= half - 2 * CHUNK_BYTES
      if (!sawRows) await sleep(25)
    }
    for (let at = half; at < image.length; at += 64 * 1024) yield image.subarray(at, at + 64 * 1024)
  }
  const stored = await store.put(sha256(image), Readable.from(body()), 16 << 20)
  t.ok(sawRows, 'the first 6 MiB were in the database before the rest of the body was read')
  t.equal(stored.size, image.length)
  t.same(await store.read(sha256(image)), image)
})

t.test('stream: any range reads the chunks it covers', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const pool = await database(t, pg)
  const store = new PgArtifactStore(pool, new TestClock())
  const image = randomBytes(10 * CHUNK_BYTES + 99)
  const sha = sha256(image)
  await store.put(sha, Readable.from([image]), 16 << 20)
  const ranges: Array<[number, number]> = [
    [0, 0],
    [0, CHUNK_BYTES - 1],
    [CHUNK_BYTES - 1, CHUNK_BYTES],
    [5, 9 * CHUNK_BYTES + 3],
    [image.length - 1, image.length - 1],
    [3 * CHUNK_BYTES, image.length - 1],
  ]
  for (const [start, end] of ranges) {
    t.same(await readAll(store.stream(sha, { start, end })), image.subarray(start, end + 1), `bytes ${start}-${end}`)
  }
  t.same(await readAll(store.stream(sha)), image, 'the whole binary')
  await t.rejects(readAll(store.stream(sha256(Buffer.from('none')))), /not in the store/)
})

t.test('two instances on one database: each serves every binary, from its own disk copy after the first', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const pool = await database(t, pg)
  const instance = () => new DiskCachedArtifactStore(new PgArtifactStore(pool, new TestClock()), new FsArtifactStore(tempDir(t)))
  const a = instance()
  const b = instance()
  const image = randomBytes(2 * CHUNK_BYTES + 5)
  const sha = sha256(image)
  await a.put(sha, Readable.from([image]), 16 << 20)

  t.equal(await b.size(sha), image.length, 'uploaded through one, known to the other')
  t.same(await readAll(b.stream(sha, { start: 10, end: CHUNK_BYTES + 10 })), image.subarray(10, CHUNK_BYTES + 11), 'first download: from the database')
  await b.fill(sha)
  t.same(fs.readFileSync(b.disk.pathOf(sha)), image, 'then copied to its disk under the digest')
  t.notOk(fs.existsSync(a.disk.pathOf(sha)), 'an instance that served nothing holds nothing')

  // A copy with the wrong bytes is never made: the fill is checked against the digest.
  await pool.query("UPDATE artifact_chunks SET data = decode(repeat('00', length(data)), 'hex') WHERE sha256 = $1 AND seq = 1", [sha])
  t.ok((await failure(a.fill(sha))) instanceof DigestMismatch, 'refused: DigestMismatch')
  t.notOk(fs.existsSync(a.disk.pathOf(sha)))

  // Memory in front of disk, as the app builds it: the database can go away.
  const cache = new ArtifactCache(b, 16 << 20)
  t.same(await cache.get(sha, image.length), image)
  t.same(await readAll(b.stream(sha, { start: 0, end: 99 })), image.subarray(0, 100), 'from disk')
})
