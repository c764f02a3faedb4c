import type { Database } from 'better-sqlite3'
import type { AuditRepository } from './audit'
import { RELEASE_COLUMNS, type NewRelease, type Release } from './releases'
import type { RolloutPlansRepository } from './rollout-plans'
import type { RolloutStart } from './rollout-rows'
import { startRollout } from './rollouts'

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

  constructor(
    private readonly db: Database,
    private readonly audit: AuditRepository,
    private readonly plans: RolloutPlansRepository
  ) {
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

  /**
   * Records the release the field fleet is served today, with its binary: it gives the binary to
   * its historical row `historicalId` (imported earlier without one), or adds it. Throws
   * HistoryConflict when a UNIQUE constraint (version, sequence, tag, binary) is in the way. Its
   * rollout (`rollout`) is started in the same transaction.
   */
  async recordCurrent(release: NewRelease, historicalId: number | undefined, rollout: RolloutStart): Promise<Release> {
    const row = { ...release, created_at: release.created_at ?? Date.now() }
    const write = this.db.transaction((): Release => {
      let id = historicalId
      if (id === undefined) {
        const insert = `INSERT INTO releases (${RELEASE_COLUMNS.join(', ')}) VALUES (${RELEASE_COLUMNS.map((c) => '@' + c).join(', ')})`
        id = Number(this.db.prepare(insert).run(row).lastInsertRowid)
      } else {
        const changed = RELEASE_COLUMNS.filter((c) => !['board', 'channel', 'version', 'sequence', 'tag', 'commit_sha', 'created_at'].includes(c))
        const update = `UPDATE releases SET ${changed.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id AND sha256 IS NULL`
        if (this.db.prepare(update).run({ ...row, id }).changes !== 1) throw new HistoryConflict(`release ${release.version} changed meanwhile`)
      }
      const recorded = this.db.prepare('SELECT * FROM releases WHERE id = ?').get(id) as Release
      startRollout(this.db, this.audit, recorded, rollout)
      return recorded
    })
    try {
      return write.immediate()
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new HistoryConflict(`a release with the same version, sequence, tag or binary is already recorded (${(err as Error).message})`)
      }
      throw err
    } finally {
      this.plans.changed()
    }
  }

  /** Records every row in one transaction, or none of them. */
  async record(rows: HistoricalReleaseRow[], importedBy: string): Promise<void> {
    this.recordTx(rows, importedBy)
  }
}
