import type { Database, Statement } from 'better-sqlite3'
import type { StoredArtifact } from '../store/artifact-store'

export interface ArtifactRow extends StoredArtifact {
  created_at: number
}

/** Facts about stored binaries; a row exists only once the bytes are durably in the store. */
export class ArtifactsRepository {
  // Every download (each 64 KiB range of a partial download too) looks its binary up here: prepared
  // once, as preparing cost several times the lookup itself (npm run bench, scenario 2).
  private readonly byDigest: Statement<[string], ArtifactRow>

  constructor(private readonly db: Database) {
    this.byDigest = db.prepare('SELECT sha256, md5, size, created_at FROM artifacts WHERE sha256 = ?')
  }

  async get(sha256: string): Promise<ArtifactRow | undefined> {
    return this.byDigest.get(sha256)
  }

  /** Records a stored artifact; recording the same bytes twice is harmless. */
  async record(artifact: StoredArtifact): Promise<ArtifactRow> {
    this.db
      .prepare('INSERT INTO artifacts (sha256, md5, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING')
      .run(artifact.sha256, artifact.md5, artifact.size, Date.now())
    return (await this.get(artifact.sha256)) as ArtifactRow
  }
}
