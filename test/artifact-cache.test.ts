import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { Readable } from 'node:stream'
import t from 'tap'
import { ArtifactCache } from '../src/store/artifact-cache'
import { FsArtifactStore } from '../src/store/fs-artifact-store'
import { tempDir, type TestContext } from './support/server'

// The in-memory cache of release binaries over a real file store: bounded by bytes, least recently
// used out first, one read shared by concurrent first requests, never holding what does not fit.

const KB = 1024

async function storeWith(t: TestContext, sizes: number[]): Promise<{ store: FsArtifactStore; shas: string[]; bytes: Buffer[] }> {
  const store = new FsArtifactStore(tempDir(t))
  const bytes = sizes.map((n) => randomBytes(n))
  const shas: string[] = []
  for (const b of bytes) {
    const sha = createHash('sha256').update(b).digest('hex')
    await store.put(sha, Readable.from([b]), b.length)
    shas.push(sha)
  }
  return { store, shas, bytes }
}

t.test('holds binaries up to the limit, evicting the least recently used', async (t) => {
  const { store, shas, bytes } = await storeWith(t, [100 * KB, 100 * KB, 100 * KB])
  const [a, b, c] = shas
  const cache = new ArtifactCache(store, 250 * KB)
  t.same(await cache.get(a, 100 * KB), bytes[0])
  await cache.get(b, 100 * KB)
  t.equal(cache.bytes, 200 * KB)
  await cache.get(a, 100 * KB) // a is now more recent than b
  await cache.get(c, 100 * KB)
  t.ok(cache.has(a), 'recently used: kept')
  t.notOk(cache.has(b), 'least recently used: evicted')
  t.ok(cache.has(c))
  t.equal(cache.bytes, 200 * KB, 'never more than the limit')
})

t.test('concurrent first requests share one read', async (t) => {
  const { store, shas } = await storeWith(t, [300 * KB])
  const cache = new ArtifactCache(store, 1024 * KB)
  const got = await Promise.all([1, 2, 3, 4].map(() => cache.get(shas[0], 300 * KB)))
  for (const g of got) t.equal(g, got[0], 'the very same Buffer')
  t.equal(cache.bytes, 300 * KB, 'held once')
})

t.test('a binary larger than the limit, or any binary with the cache off, is not held', async (t) => {
  const { store, shas } = await storeWith(t, [200 * KB])
  const small = new ArtifactCache(store, 100 * KB)
  t.equal(await small.get(shas[0], 200 * KB), undefined, 'larger than the limit')
  t.equal(await small.warm(shas[0]), false)
  t.equal(small.bytes, 0)
  const off = new ArtifactCache(store, 0)
  t.equal(await off.get(shas[0], 200 * KB), undefined, 'OTA_CACHE_BYTES=0')
  t.equal(await off.warm(shas[0]), false)
})

t.test('warm reads ahead of the first download', async (t) => {
  const { store, shas, bytes } = await storeWith(t, [50 * KB])
  const cache = new ArtifactCache(store, 100 * KB)
  t.equal(await cache.warm(shas[0]), true)
  t.ok(cache.has(shas[0]))
  fs.rmSync(store.pathOf(shas[0]))
  t.same(await cache.get(shas[0], 50 * KB), bytes[0], 'served from memory once warm')
  await t.rejects(cache.warm('0'.repeat(64)), /not in the store/)
})

t.test('bytes that do not hash to their name are refused, not cached', async (t) => {
  const { store, shas } = await storeWith(t, [10 * KB])
  const file = store.pathOf(shas[0])
  const bytes = fs.readFileSync(file)
  bytes[0] ^= 1
  fs.writeFileSync(file, bytes)
  const cache = new ArtifactCache(store, 100 * KB)
  await t.rejects(cache.get(shas[0], 10 * KB), /corrupt/)
  t.notOk(cache.has(shas[0]))
  t.equal(cache.bytes, 0)
})
