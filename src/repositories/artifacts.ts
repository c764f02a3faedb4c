import type { Database, Statement } from 'better-sqlite3'
import type { StoredArtifact } from '../store/artifact-store'

export interface ArtifactRow extends StoredArtifact {
  created_at: number
}

/** Rows held in memory at most; far more than a server's releases, and each is a few dozen bytes. */
const MAX_CACHED = 10_000

/** Facts about stored binaries; a row exists only once the bytes are durably in the store. */
export class ArtifactsRepository {
  private readonly byDigest: Statement<[string], ArtifactRow>
  // Every download (each 64 KiB range of a partial download too) looks its binary up here, and even
  // a prepared lookup cost about 40 µs of a range request's CPU under load (npm run bench, scenario
  // 2). A row is never updated or deleted once written, so a found row is held; a miss always asks
  // the database, so a row another process records is seen at once.
  private readonly found = new Map<string, ArtifactRow>()

  constructor(private readonly db: Database) {
    this.byDigest = db.prepare('SELECT sha256, md5, size, created_at FROM artifacts WHERE sha256 = ?')
  }

  async get(sha256: string): Promise<ArtifactRow | undefined> {
    const held = this.found.get(sha256)
    if (held) return held
    const row = this.byDigest.get(sha256)
    if (row) {
      if (this.found.size >= MAX_CACHED) this.found.clear()
      // Shared by every caller from now on: frozen, so none can change it for the others.
      this.found.set(sha256, Object.freeze(row))
    }
    return row
  }

  /** Records a stored artifact; recording the same bytes twice is harmless. */
  async record(artifact: StoredArtifact): Promise<ArtifactRow> {
    this.db
      .prepare('INSERT INTO artifacts (sha256, md5, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING')
      .run(artifact.sha256, artifact.md5, artifact.size, Date.now())
    return (await this.get(artifact.sha256)) as ArtifactRow
  }
}
