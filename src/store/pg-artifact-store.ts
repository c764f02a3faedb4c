import { createHash } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Pool, PoolClient } from 'pg'
import type { Clock } from '../clock'
import {
  ArtifactTooLarge,
  DigestMismatch,
  type ArtifactStore,
  type ByteRange,
  type PutResult,
} from './artifact-store'

/** Bytes a chunk holds: a range request reads at most two chunks it does not need. */
export const CHUNK_BYTES = 256 * 1024
/** Chunks fetched by one query while streaming: 2 MiB, a whole image in one or two round trips. */
const CHUNKS_PER_READ = 8

/** A 64-bit advisory lock key from a digest, so two uploads of the same bytes take turns. */
const lockKey = (sha256: string) => BigInt.asIntN(64, BigInt(`0x${sha256.slice(0, 16)}`)).toString()

/**
 * Release binaries in PostgreSQL (tables artifact_blobs and artifact_chunks), so that every
 * instance on the database serves every binary. An upload streams into one transaction chunk by
 * chunk while it is hashed, and commits only once the bytes hash to the digest; reads stream the
 * chunks a range covers. Neither ever holds a whole binary in memory.
 */
export class PgArtifactStore implements ArtifactStore {
  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock
  ) {}

  async put(sha256: string, body: Readable, maxBytes: number): Promise<PutResult> {
    const client = await this.pool.connect()
    let failed = false
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [lockKey(sha256)])
      const existed = (await client.query('SELECT 1 FROM artifact_blobs WHERE sha256 = $1', [sha256])).rowCount !== 0
      // Already stored: the body is still read and checked (a wrong digest is refused either way), but not written.
      const sink = existed ? undefined : client
      const { actual, md5, size } = await writeChunks(sha256, body, maxBytes, sink)
      if (actual !== sha256) throw new DigestMismatch(sha256, actual, size)
      if (existed) {
        await client.query('ROLLBACK')
        return { sha256, md5, size, created: false }
      }
      await client.query('INSERT INTO artifact_blobs (sha256, md5, size, chunk_bytes, created_at) VALUES ($1, $2, $3, $4, $5)', [
        sha256,
        md5,
        size,
        CHUNK_BYTES,
        this.clock.now(),
      ])
      await client.query('COMMIT')
      return { sha256, md5, size, created: true }
    } catch (err) {
      failed = true
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      // A connection whose rollback may not have gone through is not handed to anyone else.
      client.release(failed ? true : undefined)
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ size: number | string }>('SELECT size FROM artifact_blobs WHERE sha256 = $1', [sha256])
    return rows.length === 0 ? undefined : Number(rows[0].size)
  }

  async read(sha256: string): Promise<Buffer> {
    const parts: Buffer[] = []
    for await (const chunk of this.stream(sha256)) parts.push(chunk as Buffer)
    return Buffer.concat(parts)
  }

  stream(sha256: string, range?: ByteRange): Readable {
    return Readable.from(this.chunks(sha256, range), { objectMode: false })
  }

  async remove(sha256: string): Promise<void> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('DELETE FROM artifact_blobs WHERE sha256 = $1', [sha256])
      await client.query('DELETE FROM artifact_chunks WHERE sha256 = $1', [sha256])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
  }

  private async *chunks(sha256: string, range?: ByteRange): AsyncGenerator<Buffer> {
    const { rows } = await this.pool.query<{ size: number | string; chunk_bytes: number }>(
      'SELECT size, chunk_bytes FROM artifact_blobs WHERE sha256 = $1',
      [sha256]
    )
    if (rows.length === 0) throw new Error(`artifact ${sha256} is not in the store`)
    const size = Number(rows[0].size)
    const chunkBytes = rows[0].chunk_bytes
    const start = range?.start ?? 0
    const end = Math.min(range?.end ?? size - 1, size - 1)
    if (end < start) return
    const last = Math.floor(end / chunkBytes)
    for (let from = Math.floor(start / chunkBytes); from <= last; from += CHUNKS_PER_READ) {
      const to = Math.min(last, from + CHUNKS_PER_READ - 1)
      const batch = await this.pool.query<{ seq: number; data: Buffer }>(
        'SELECT seq, data FROM artifact_chunks WHERE sha256 = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq',
        [sha256, from, to]
      )
      if (batch.rows.length !== to - from + 1) throw new Error(`artifact ${sha256} is missing chunks ${from}…${to} in the database`)
      for (const { seq, data } of batch.rows) {
        const offset = seq * chunkBytes
        const a = Math.max(start - offset, 0)
        const b = Math.min(end - offset + 1, data.length)
        yield a === 0 && b === data.length ? data : data.subarray(a, b)
      }
    }
  }
}

/**
 * Streams `body` into chunk rows through `client` (or only hashes it, without a client), hashing
 * on the way; throws ArtifactTooLarge past `maxBytes`. The query for one chunk is awaited before
 * more of the body is read, so at most one chunk is in memory.
 */
async function writeChunks(
  sha256: string,
  body: Readable,
  maxBytes: number,
  client: PoolClient | undefined
): Promise<{ actual: string; md5: string; size: number }> {
  const sha = createHash('sha256')
  const md5 = createHash('md5')
  let size = 0
  let seq = 0
  let pending: Buffer[] = []
  let pendingBytes = 0
  const flush = async (upTo: number) => {
    const whole = Buffer.concat(pending, pendingBytes)
    let offset = 0
    for (; whole.length - offset >= upTo && whole.length - offset > 0; offset += CHUNK_BYTES) {
      const piece = whole.subarray(offset, Math.min(offset + CHUNK_BYTES, whole.length))
      if (client) await client.query('INSERT INTO artifact_chunks (sha256, seq, data) VALUES ($1, $2, $3)', [sha256, seq, piece])
      seq++
    }
    pending = offset < whole.length ? [whole.subarray(offset)] : []
    pendingBytes = whole.length - offset
  }
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      size += chunk.length
      if (size > maxBytes) return done(new ArtifactTooLarge(maxBytes))
      sha.update(chunk)
      md5.update(chunk)
      pending.push(chunk)
      pendingBytes += chunk.length
      if (pendingBytes < CHUNK_BYTES) return done()
      flush(CHUNK_BYTES).then(() => done(), done)
    },
    final(done) {
      flush(1).then(() => done(), done)
    },
  })
  await pipeline(body, sink)
  return { actual: sha.digest('hex'), md5: md5.digest('hex'), size }
}
