import type { Database, Statement } from 'better-sqlite3'

export type AuditAction =
  | 'start'
  | 'set_percent'
  | 'pause'
  | 'resume'
  | 'halt'
  | 'rollback'
  | 'clear_rollback'
  | 'policy'
  | 'pin'
  | 'unpin'

/** One change to how releases reach devices: who (a token name, or `system`), what, when and why. */
export interface AuditEntry {
  actor: string
  action: AuditAction
  board: string | null
  channel: string | null
  version: string | null
  device: string | null
  reason: string | null
  /** what the change did, as JSON-able facts (percent from/to, counts, devices) */
  details: Record<string, unknown>
  at?: number
}

export interface AuditRow extends Omit<AuditEntry, 'at'> {
  id: number
  at: number
}

/**
 * The audit log. `recordSync` is for the repositories that change rollout state: they write the
 * entry inside their own transaction, so a change and its record commit together.
 */
export class AuditRepository {
  private readonly insert: Statement

  constructor(private readonly db: Database) {
    this.insert = db.prepare(`INSERT INTO audit_log (at, actor, action, board, channel, version, device, reason, details)
      VALUES (@at, @actor, @action, @board, @channel, @version, @device, @reason, @details)`)
  }

  recordSync(entry: AuditEntry): void {
    this.insert.run({ ...entry, at: entry.at ?? Date.now(), details: JSON.stringify(entry.details) })
  }

  /** Newest first; `before` is the id of the last entry of the previous page. */
  async list(filter: { board?: string; channel?: string }, before: number | null, limit: number): Promise<AuditRow[]> {
    const rows = this.db
      .prepare(
        `SELECT id, at, actor, action, board, channel, version, device, reason, details FROM audit_log
         WHERE (@board IS NULL OR board = @board) AND (@channel IS NULL OR channel = @channel) AND (@before IS NULL OR id < @before)
         ORDER BY id DESC LIMIT @limit`
      )
      .all({ board: filter.board ?? null, channel: filter.channel ?? null, before, limit }) as Array<AuditRow & { details: string }>
    return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }))
  }
}
