import type { Database } from 'better-sqlite3'

/** A release published before ota-gate, recorded without a binary. */
export interface HistoricalReleaseRow {
  board: string
  channel: string
  version: string
  sequence: number
  tag: string
  commit: string
}

/** The history met a release recorded meanwhile (a UNIQUE constraint); nothing was written. */
export class HistoryConflict extends Error {
  override name = 'HistoryConflict'
}

/**
 * Writes historical releases into `releases` (provenance `imported`, no binary, no signature).
 * Unlike a publish, these may lie below the board's highest sequence: they are the past.
 */
export class ReleaseHistoryRepository {
  private readonly recordTx: (rows: HistoricalReleaseRow[], importedBy: string) => void

  constructor(db: Database) {
    const insert = db.prepare(
      `INSERT INTO releases (board, channel, version, sequence, tag, commit_sha, provenance, published_by, created_at)
       VALUES (@board, @channel, @version, @sequence, @tag, @commit, 'imported', @importedBy, @createdAt)`
    )
    const tx = db.transaction((rows: HistoricalReleaseRow[], importedBy: string) => {
      const createdAt = Date.now()
      for (const row of rows) insert.run({ ...row, importedBy, createdAt })
    })
    // IMMEDIATE: all rows or none, and no publish slips in between the rows.
    this.recordTx = (rows, importedBy) => {
      try {
        tx.immediate(rows, importedBy)
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new HistoryConflict(`a release was recorded meanwhile with the same version, sequence or tag (${(err as Error).message})`)
        }
        throw err
      }
    }
  }

  /** Records every row in one transaction, or none of them. */
  async record(rows: HistoricalReleaseRow[], importedBy: string): Promise<void> {
    this.recordTx(rows, importedBy)
  }
}
