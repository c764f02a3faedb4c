import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { SHA256_FORM } from '../schemas/common'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  ArtifactTooLarge,
  DigestMismatch,
  type ArtifactStore,
  type ByteRange,
  type PutResult,
} from './artifact-store'


/**
 * Content-addressed files under `<dataDir>/artifacts/<first two hex>/<sha256>.bin`. An upload goes
 * to `<dataDir>/tmp`, is fsynced and renamed into place, so a crash never leaves a visible
 * partial artifact; leftovers in tmp are removed at start.
 */
export class FsArtifactStore implements ArtifactStore {
  readonly root: string
  private readonly tmp: string

  /**
   * `removeLeftovers` (the server, at start) clears tmp; a command working on the data folder
   * while the server runs passes false, since the server's uploads in progress are there.
   */
  constructor(dataDir: string, options: { removeLeftovers: boolean } = { removeLeftovers: true }) {
    this.root = path.join(dataDir, 'artifacts')
    this.tmp = path.join(dataDir, 'tmp')
    fs.mkdirSync(this.root, { recursive: true })
    if (options.removeLeftovers) fs.rmSync(this.tmp, { recursive: true, force: true })
    fs.mkdirSync(this.tmp, { recursive: true })
  }

  pathOf(sha256: string): string {
    if (!SHA256_FORM.test(sha256)) throw new Error(`not a sha256: ${sha256}`)
    return path.join(this.root, sha256.slice(0, 2), `${sha256}.bin`)
  }

  async put(sha256: string, body: Readable, maxBytes: number): Promise<PutResult> {
    const sha = createHash('sha256')
    const md5 = createHash('md5')
    let size = 0
    const tmpFile = path.join(this.tmp, `${sha256}.${randomBytes(6).toString('hex')}.part`)
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length
        if (size > maxBytes) return done(new ArtifactTooLarge(maxBytes))
        sha.update(chunk)
        md5.update(chunk)
        done(null, chunk)
      },
    })
    const out = fs.createWriteStream(tmpFile, { flags: 'wx', mode: 0o644 })
    try {
      await pipeline(body, meter, out)
      const actual = sha.digest('hex')
      if (actual !== sha256) throw new DigestMismatch(sha256, actual, size)
      const handle = await fsp.open(tmpFile, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
      const final = this.pathOf(sha256)
      const existed = await this.size(sha256)
      await fsp.mkdir(path.dirname(final), { recursive: true })
      await fsp.rename(tmpFile, final)
      await syncDir(path.dirname(final))
      return { sha256, md5: md5.digest('hex'), size, created: existed === undefined }
    } catch (err) {
      out.destroy()
      await fsp.rm(tmpFile, { force: true })
      throw err
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await fsp.stat(this.pathOf(sha256))).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  read(sha256: string): Promise<Buffer> {
    return fsp.readFile(this.pathOf(sha256))
  }

  stream(sha256: string, range?: ByteRange): Readable {
    return fs.createReadStream(this.pathOf(sha256), range ? { start: range.start, end: range.end } : {})
  }

  async remove(sha256: string): Promise<void> {
    const file = this.pathOf(sha256)
    await fsp.rm(file, { force: true })
    await syncDir(path.dirname(file)).catch(() => undefined)
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
