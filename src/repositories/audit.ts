import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'

export const AUDIT_ACTIONS = [
  'start',
  'set_percent',
  'pause',
  'resume',
  'halt',
  'rollback',
  'clear_rollback',
  'policy',
  'pin',
  'unpin',
  'device_accept',
  'device_reject',
  'device_revoke',
  'device_key_rotated',
  'allowlist_add',
  'allowlist_remove',
  'enrollment_create',
  'enrollment_revoke',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** What an audit page is narrowed to; each field absent means any. */
export interface AuditFilter {
  board?: string
  channel?: string
  action?: AuditAction
  actor?: string
  /** 12 lowercase hex: entries about this device, alone or among the devices of one change */
  device?: string
}

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

  constructor(private readonly db: Database,
    private readonly clock: Clock
  ) {
    this.insert = db.prepare(`INSERT INTO audit_log (at, actor, action, board, channel, version, device, reason, details)
      VALUES (@at, @actor, @action, @board, @channel, @version, @device, @reason, @details)`)
  }

  recordSync(entry: AuditEntry): void {
    this.insert.run({ ...entry, at: entry.at ?? this.clock.now(), details: JSON.stringify(entry.details) })
  }

  /** Newest first; `before` is the id of the last entry of the previous page. */
  async list(filter: AuditFilter, before: number | null, limit: number): Promise<AuditRow[]> {
    const rows = this.db
      .prepare(
        `SELECT id, at, actor, action, board, channel, version, device, reason, details FROM audit_log
         WHERE (@board IS NULL OR board = @board) AND (@channel IS NULL OR channel = @channel)
           AND (@action IS NULL OR action = @action) AND (@actor IS NULL OR actor = @actor)
           AND (@device IS NULL OR device = @device
             OR (device IS NULL AND EXISTS (SELECT 1 FROM json_each(details, '$.devices') WHERE value = @device)))
           AND (@before IS NULL OR id < @before)
         ORDER BY id DESC LIMIT @limit`
      )
      .all({
        board: filter.board ?? null,
        channel: filter.channel ?? null,
        action: filter.action ?? null,
        actor: filter.actor ?? null,
        device: filter.device ?? null,
        before,
        limit,
      }) as Array<AuditRow & { details: string }>
    return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }))
  }
}
