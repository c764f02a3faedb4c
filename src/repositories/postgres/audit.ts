import type pg from 'pg'
import { all, type Queryable } from '../../db/postgres'
import type { AuditEntry, AuditFilter, AuditRepository, AuditRow } from '../audit'
import type { Shape } from '../shape'

/** Writes an audit entry on `q`: inside the transaction of the change it records. */
export async function pgRecordAudit(q: Queryable, entry: AuditEntry): Promise<void> {
  await q.query(
    `INSERT INTO audit_log (at, actor, action, board, channel, version, device, reason, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [entry.at ?? Date.now(), entry.actor, entry.action, entry.board, entry.channel, entry.version, entry.device, entry.reason, JSON.stringify(entry.details)]
  )
}

export class PgAuditRepository implements Omit<Shape<AuditRepository>, 'recordSync'> {
  constructor(private readonly pool: pg.Pool) {}

  async list(filter: AuditFilter, before: number | null, limit: number): Promise<AuditRow[]> {
    const rows = await all<AuditRow & { details: string }>(
      this.pool,
      `SELECT id, at, actor, action, board, channel, version, device, reason, details FROM audit_log
       WHERE ($1::text IS NULL OR board = $1) AND ($2::text IS NULL OR channel = $2)
         AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR actor = $4)
         AND ($5::text IS NULL OR device = $5
           OR (device IS NULL AND (details::jsonb -> 'devices') ? $5))
         AND ($6::bigint IS NULL OR id < $6)
       ORDER BY id DESC LIMIT $7`,
      [filter.board ?? null, filter.channel ?? null, filter.action ?? null, filter.actor ?? null, filter.device ?? null, before, limit]
    )
    return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }))
  }
}
