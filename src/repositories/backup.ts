import type { Database } from 'better-sqlite3'
import { quoted } from './copy-source'

export interface ArtifactFile {
  sha256: string
  size: number
}

/**
 * What backup and restore read from a database: usually a copy (the backup's own snapshot), so
 * that what they check is what was copied.
 */
export class BackupRepository {
  constructor(private readonly db: Database) {}

  /** Every artifact the database refers to: release binaries and the delta patches built to them. */
  async artifacts(): Promise<ArtifactFile[]> {
    // A database from before delta patches (schema 8) has no such table.
    const hasPatches = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'delta_patches'").get() !== undefined
    const patches = hasPatches ? "UNION SELECT sha256, size FROM delta_patches WHERE state = 'ready'" : ''
    return this.db.prepare(`SELECT sha256, size FROM artifacts ${patches} ORDER BY sha256`).all() as ArtifactFile[]
  }

  /** The highest migration applied, 0 for a database without migrations. */
  async schemaVersion(): Promise<number> {
    const row = this.db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }
    return row.v ?? 0
  }

  /** Rows per table, for the backup manifest (a person comparing two backups reads these first). */
  async tableCounts(): Promise<Record<string, number>> {
    const tables = this.db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[]
    const counts: Record<string, number> = {}
    for (const table of tables) {
      counts[table] = this.db.prepare(`SELECT count(*) FROM ${quoted(table)}`).pluck().get() as number
    }
    return counts
  }

  /** SQLite's own check of the whole file: [] when sound, else what it found. */
  async integrityProblems(): Promise<string[]> {
    const rows = this.db.pragma('integrity_check') as Array<{ integrity_check: string }>
    const problems = rows.map((r) => r.integrity_check)
    return problems.length === 1 && problems[0] === 'ok' ? [] : problems
  }
}
