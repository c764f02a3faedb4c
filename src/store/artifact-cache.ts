import { createHash } from 'node:crypto'
import type { ArtifactStore } from './artifact-store'

/**
 * Release binaries held in memory, least recently used evicted first, at most `limitBytes` in all:
 * a Buffer sent from memory outruns streaming from disk several times over, and images are small
 * and immutable, so nothing is ever invalidated. A limit of 0 disables the cache; an artifact larger
 * than the limit is never held (its callers stream it from the store).
 */
export class ArtifactCache {
  /** insertion order is recency order: the first entry is the least recently used */
  private readonly entries = new Map<string, Buffer>()
  /** reads in progress, so that concurrent first requests share one read */
  private readonly loading = new Map<string, Promise<Buffer>>()
  private held = 0
  /** the most recently used entry, which a hit need not move to the end again */
  private newest: string | undefined

  constructor(
    private readonly store: ArtifactStore,
    readonly limitBytes: number
  ) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.held
  }

  /** Whether an artifact of `size` bytes can be held at all. */
  fits(size: number): boolean {
    return size <= this.limitBytes && this.limitBytes > 0
  }

  has(sha256: string): boolean {
    return this.entries.has(sha256)
  }

  /**
   * The whole artifact if it is held now, without reading it and without a promise (a download
   * from memory awaits nothing); recency is kept as get() keeps it.
   */
  peek(sha256: string): Buffer | undefined {
    const hit = this.entries.get(sha256)
    if (hit && this.newest !== sha256) {
      this.entries.delete(sha256)
      this.entries.set(sha256, hit)
      this.newest = sha256
    }
    return hit
  }

  /**
   * The whole artifact from memory, read from the store on first use; undefined when an artifact of
   * `size` bytes is not cached (disabled, or larger than the limit), so the caller streams it instead.
   */
  async get(sha256: string, size: number): Promise<Buffer | undefined> {
    const hit = this.peek(sha256)
    if (hit) return hit
    if (!this.fits(size)) return undefined
    return this.load(sha256)
  }

  /** Drops an artifact whose bytes are gone from the store (a pruned upload). */
  forget(sha256: string): void {
    const held = this.entries.get(sha256)
    if (!held) return
    this.entries.delete(sha256)
    this.held -= held.length
  }

  /** Reads an artifact into the cache ahead of its first download; false when it does not fit. */
  async warm(sha256: string): Promise<boolean> {
    if (this.entries.has(sha256)) return true
    const size = await this.store.size(sha256)
    if (size === undefined) throw new Error(`artifact ${sha256} is not in the store`)
    if (!this.fits(size)) return false
    await this.load(sha256)
    return true
  }

  private load(sha256: string): Promise<Buffer> {
    let pending = this.loading.get(sha256)
    if (!pending) {
      pending = this.read(sha256).finally(() => this.loading.delete(sha256))
      this.loading.set(sha256, pending)
    }
    return pending
  }

  private async read(sha256: string): Promise<Buffer> {
    const bytes = await this.store.read(sha256)
    // Checked once per fill (a few ms for an image): bytes served from memory for months must be
    // the ones the digest names, whatever happened to the disk underneath.
    const actual = createHash('sha256').update(bytes).digest('hex')
    if (actual !== sha256) throw new Error(`stored artifact ${sha256} is corrupt: its bytes hash to ${actual}`)
    if (this.fits(bytes.length) && !this.entries.has(sha256)) {
      this.entries.set(sha256, bytes)
      this.newest = sha256
      this.held += bytes.length
      this.evict()
    }
    return bytes
  }

  private evict(): void {
    for (const [sha, bytes] of this.entries) {
      if (this.held <= this.limitBytes) break
      this.entries.delete(sha)
      this.held -= bytes.length
    }
  }
}
