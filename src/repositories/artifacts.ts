import type { Database } from 'better-sqlite3'
import type { StoredArtifact } from '../store/artifact-store'

export interface ArtifactRow extends StoredArtifact {
  created_at: number
}

/** Facts about stored binaries; a row exists only once the bytes are durably in the store. */
export class ArtifactsRepository {
  constructor(private readonly db: Database) {}

  async get(sha256: string): Promise<ArtifactRow | undefined> {
    return this.db.prepare('SELECT sha256, md5, size, created_at FROM artifacts WHERE sha256 = ?').get(sha256) as
      | ArtifactRow
      | undefined
  }

  /** Records a stored artifact; recording the same bytes twice is harmless. */
  async record(artifact: StoredArtifact): Promise<ArtifactRow> {
    this.db
      .prepare('INSERT INTO artifacts (sha256, md5, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING')
      .run(artifact.sha256, artifact.md5, artifact.size, Date.now())
    return (await this.get(artifact.sha256)) as ArtifactRow
  }
}
