import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'
import type { StoredArtifact } from '../store/artifact-store'

export interface ArtifactRow extends StoredArtifact {
  created_at: number
}

/** Rows held in memory at most; far more than a server's releases, and each is a few dozen bytes. */
const MAX_CACHED = 10_000

/** SQL: a release names the binary `digest` (a column or parameter), as its application or its factory image. */
export const RELEASE_NAMES = (digest: string) =>
  `(EXISTS (SELECT 1 FROM releases r WHERE r.sha256 = ${digest}) OR EXISTS (SELECT 1 FROM factory_images f WHERE f.sha256 = ${digest}))`

/** Facts about stored binaries; a row exists only once the bytes are durably in the store. */
export class ArtifactsRepository {
  private readonly byDigest: Statement<[string], ArtifactRow>
  private readonly inRelease: Statement<[{ sha: string }], { one: number }>
  // Every download (each 64 KiB range of a partial download too) looks its binary up here, and even
  // a prepared lookup cost about 40 µs of a range request's CPU under load (npm run bench, scenario
  // 2). A row is never updated, and deleted only by forgetUnreleased (which drops it here too), so a
  // found row is held; a miss always asks the database, so a row another process records is seen at once.
  private readonly found = new Map<string, ArtifactRow>()
  // Releases are never deleted: a binary found in one stays released.
  private readonly released = new Set<string>()

  constructor(private readonly db: Database,
    private readonly clock: Clock
  ) {
    this.byDigest = db.prepare('SELECT sha256, md5, size, created_at FROM artifacts WHERE sha256 = ?')
    this.inRelease = db.prepare(`SELECT 1 AS one WHERE ${RELEASE_NAMES('@sha')}`)
  }

  /** After another instance deleted artifacts (the change feed): every found row is read again. */
  changed(): void {
    this.found.clear()
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

  /** Whether a release (of any board) names this binary, as its application or its factory image. */
  async isReleased(sha256: string): Promise<boolean> {
    if (this.released.has(sha256)) return true
    if (this.inRelease.get({ sha: sha256 }) === undefined) return false
    if (this.released.size >= MAX_CACHED) this.released.clear()
    this.released.add(sha256)
    return true
  }

  /** Records a stored artifact; recording the same bytes twice is harmless. */
  async record(artifact: StoredArtifact): Promise<ArtifactRow> {
    this.db
      .prepare('INSERT INTO artifacts (sha256, md5, size, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING')
      .run(artifact.sha256, artifact.md5, artifact.size, this.clock.now())
    return (await this.get(artifact.sha256)) as ArtifactRow
  }

  /** Uploads recorded before `before` that no release names, oldest first. */
  async unreleased(before: number): Promise<ArtifactRow[]> {
    return this.db
      .prepare(
        `SELECT a.sha256, a.md5, a.size, a.created_at FROM artifacts a
         WHERE a.created_at < ? AND NOT ${RELEASE_NAMES('a.sha256')}
         ORDER BY a.created_at, a.sha256`
      )
      .all(before) as ArtifactRow[]
  }

  /** Deletes the row of an upload no release names; false when a release names it (or no row exists). */
  async forgetUnreleased(sha256: string): Promise<boolean> {
    const r = this.db
      .prepare(`DELETE FROM artifacts WHERE sha256 = @sha AND NOT ${RELEASE_NAMES('@sha')}`)
      .run({ sha: sha256 })
    if (r.changes > 0) this.found.delete(sha256)
    return r.changes > 0
  }
}
