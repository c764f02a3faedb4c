import fs from 'node:fs'
import type { Readable } from 'node:stream'
import type { ArtifactStore, ByteRange, PutResult } from './artifact-store'
import type { FsArtifactStore } from './fs-artifact-store'

/**
 * A shared store (PostgreSQL) with this instance's copy of each binary on local disk, keyed by
 * SHA-256: a binary is fetched from the shared store once, on its first download, then served
 * from the file. The bytes under a digest never change, so a copy is never stale; the fill goes
 * through FsArtifactStore.put, which keeps it only if it hashes to its name.
 */
export class DiskCachedArtifactStore implements ArtifactStore {
  /** fills in progress, so that concurrent first downloads share one */
  private readonly filling = new Map<string, Promise<void>>()

  constructor(
    private readonly shared: ArtifactStore,
    readonly disk: FsArtifactStore,
    /** Told when a fill fails; the download itself was served from the shared store. */
    private readonly onFillError: (sha256: string, err: unknown) => void = () => undefined
  ) {}

  put(sha256: string, body: Readable, maxBytes: number): Promise<PutResult> {
    return this.shared.put(sha256, body, maxBytes)
  }

  async size(sha256: string): Promise<number | undefined> {
    return (await this.disk.size(sha256)) ?? this.shared.size(sha256)
  }

  async read(sha256: string): Promise<Buffer> {
    if ((await this.disk.size(sha256)) === undefined) await this.fill(sha256)
    return this.disk.read(sha256)
  }

  stream(sha256: string, range?: ByteRange): Readable {
    if (fs.existsSync(this.disk.pathOf(sha256))) return this.disk.stream(sha256, range)
    this.fill(sha256).catch((err: unknown) => this.onFillError(sha256, err))
    return this.shared.stream(sha256, range)
  }

  async remove(sha256: string): Promise<void> {
    await this.shared.remove(sha256)
    await this.disk.remove(sha256)
  }

  /** Copies the binary from the shared store to disk, once however many ask at the same time. */
  fill(sha256: string): Promise<void> {
    let pending = this.filling.get(sha256)
    if (!pending) {
      pending = this.disk
        .put(sha256, this.shared.stream(sha256), Number.MAX_SAFE_INTEGER)
        .then(() => undefined)
        .finally(() => this.filling.delete(sha256))
      this.filling.set(sha256, pending)
    }
    return pending
  }
}
