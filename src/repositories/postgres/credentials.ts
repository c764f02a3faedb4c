import type pg from 'pg'
import type { Clock } from '../../clock'
import { all, changes, one, transaction, uniqueViolation, type Queryable } from '../../db/postgres'
import type { AuditEntry } from '../audit'
import {
  EnrollmentNameTaken,
  type AllowlistRow,
  type DeviceCredentialsRepository,
  type DeviceKeyRow,
  type DeviceKeyState,
  type EnrollmentTokenRow,
  type KeyDecision,
  type KeyMove,
} from '../device-credentials'
import type { Shape } from '../shape'
import { pgRecordAudit } from './audit'

export class PgDeviceCredentialsRepository implements Shape<DeviceCredentialsRepository> {
  constructor(private readonly pool: pg.Pool,
    private readonly clock: Clock) {}

  async tokenSecret(): Promise<Buffer> {
    return ((await one<{ secret: Buffer }>(this.pool, 'SELECT secret FROM device_auth WHERE id = 1')) as { secret: Buffer }).secret
  }

  async revocationGeneration(): Promise<number> {
    return ((await one<{ generation: number }>(this.pool, 'SELECT generation FROM device_auth WHERE id = 1')) as { generation: number }).generation
  }

  async keysGeneration(): Promise<number> {
    return ((await one<{ keys_generation: number }>(this.pool, 'SELECT keys_generation FROM device_auth WHERE id = 1')) as { keys_generation: number }).keys_generation
  }

  async revocations(): Promise<Array<{ device: string; not_before: number }>> {
    return all(this.pool, 'SELECT device, not_before FROM device_revocations')
  }

  async useChallenge(nonce: string, expiresAt: number, now: number): Promise<boolean> {
    return transaction(this.pool, async (q) => {
      await q.query('DELETE FROM used_challenges WHERE expires_at <= $1', [now])
      return (await changes(q, 'INSERT INTO used_challenges (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING', [nonce, expiresAt])) === 1
    })
  }

  async acceptedKey(device: string): Promise<DeviceKeyRow | undefined> {
    return one(this.pool, { name: 'accepted-key', text: "SELECT * FROM device_keys WHERE device = $1 AND state = 'accepted'" }, [device])
  }

  async acceptedDevices(limit: number): Promise<string[]> {
    return (await all<{ device: string }>(this.pool, "SELECT device FROM device_keys WHERE state = 'accepted' LIMIT $1", [limit])).map((r) => r.device)
  }

  async key(device: string, keyId: string): Promise<DeviceKeyRow | undefined> {
    return one(this.pool, 'SELECT * FROM device_keys WHERE device = $1 AND key_id = $2', [device, keyId])
  }

  async keysOf(device: string): Promise<DeviceKeyRow[]> {
    return all(this.pool, 'SELECT * FROM device_keys WHERE device = $1 ORDER BY requested_at DESC, key_id', [device])
  }

  async list(state: DeviceKeyState | undefined, after: { device: string; key_id: string } | null, limit: number): Promise<DeviceKeyRow[]> {
    return all(
      this.pool,
      `SELECT * FROM device_keys WHERE ($1::text IS NULL OR state = $1)
         AND ($2::text IS NULL OR (device, key_id) > ($2, $3::text))
       ORDER BY device, key_id LIMIT $4`,
      [state ?? null, after?.device ?? null, after?.key_id ?? null, limit]
    )
  }

  async pendingCount(): Promise<number> {
    return ((await one<{ n: number }>(this.pool, "SELECT count(*) AS n FROM device_keys WHERE state = 'pending'")) as { n: number }).n
  }

  async request(
    key: Pick<DeviceKeyRow, 'device' | 'key_id' | 'public_key' | 'board' | 'address' | 'requested_at'>,
    accept?: { decision: KeyDecision; consumeToken?: number }
  ): Promise<boolean> {
    return transaction(this.pool, async (q) => {
      if (accept?.consumeToken !== undefined) {
        const used = await changes(
          q,
          `UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = $1 AND revoked_at IS NULL
             AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > $2)`,
          [accept.consumeToken, key.requested_at]
        )
        if (used === 0) return false
      }
      await q.query("DELETE FROM device_keys WHERE device = $1 AND key_id <> $2 AND state = 'pending'", [key.device, key.key_id])
      await q.query(
        `INSERT INTO device_keys (device, key_id, public_key, board, state, requested_at, address)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6)
         ON CONFLICT (device, key_id) DO UPDATE SET requested_at = excluded.requested_at, address = excluded.address, board = excluded.board`,
        [key.device, key.key_id, key.public_key, key.board, key.requested_at, key.address]
      )
      if (accept) await this.decideOn(q, accept.decision)
      return true
    })
  }

  /** None: on PostgreSQL the change feed tells every instance, this one too, of each decision. */
  async keyMovesHere(): Promise<KeyMove[]> {
    return []
  }

  async decide(decision: KeyDecision): Promise<void> {
    await transaction(this.pool, (q) => this.decideOn(q, decision))
  }

  private async decideOn(q: Queryable, d: KeyDecision): Promise<void> {
    const before = await one<DeviceKeyRow>(q, 'SELECT * FROM device_keys WHERE device = $1 AND key_id = $2 FOR UPDATE', [d.device, d.key_id])
    if (d.state === 'accepted') {
      await q.query(
        "UPDATE device_keys SET state = 'replaced', decided_at = $1, decided_by = $2 WHERE device = $3 AND key_id <> $4 AND state = 'accepted'",
        [d.at, d.decided_by, d.device, d.key_id]
      )
    }
    await q.query('UPDATE device_keys SET state = $1, decided_at = $2, decided_by = $3 WHERE device = $4 AND key_id = $5', [
      d.state,
      d.at,
      d.decided_by,
      d.device,
      d.key_id,
    ])
    if (before?.state === 'accepted' && d.state !== 'accepted') {
      await q.query(
        'INSERT INTO device_revocations (device, not_before) VALUES ($1, $2) ON CONFLICT (device) DO UPDATE SET not_before = excluded.not_before',
        [d.device, d.at]
      )
      await q.query('UPDATE devices SET verified = 0 WHERE device = $1', [d.device])
    }
    await pgRecordAudit(q, d.audit, this.clock.now())
  }

  async allowed(device: string): Promise<boolean> {
    return (await one(this.pool, 'SELECT 1 AS one FROM device_allowlist WHERE device = $1', [device])) !== undefined
  }

  async allow(devices: string[], by: string, note: string | null, audit: AuditEntry): Promise<number> {
    return transaction(this.pool, async (q) => {
      const added = await changes(
        q,
        `INSERT INTO device_allowlist (device, added_at, added_by, note) SELECT DISTINCT d, $2::bigint, $3, $4 FROM unnest($1::text[]) AS d
         ON CONFLICT DO NOTHING`,
        [devices, this.clock.now(), by, note]
      )
      await pgRecordAudit(q, { ...audit, details: { ...audit.details, added } }, this.clock.now())
      return added
    })
  }

  async disallow(devices: string[], audit: AuditEntry): Promise<number> {
    return transaction(this.pool, async (q) => {
      const removed = await changes(q, 'DELETE FROM device_allowlist WHERE device = ANY($1::text[])', [devices])
      await pgRecordAudit(q, { ...audit, details: { ...audit.details, removed } }, this.clock.now())
      return removed
    })
  }

  async allowlist(after: string | null, limit: number): Promise<AllowlistRow[]> {
    return all(this.pool, 'SELECT * FROM device_allowlist WHERE ($1::text IS NULL OR device > $1) ORDER BY device LIMIT $2', [after, limit])
  }

  async createEnrollmentToken(row: Omit<EnrollmentTokenRow, 'id' | 'uses' | 'revoked_at'> & { hash: string }, audit: AuditEntry): Promise<EnrollmentTokenRow> {
    try {
      return await transaction(this.pool, async (q) => {
        const inserted = (await one<{ id: number }>(
          q,
          `INSERT INTO enrollment_tokens (name, hash, max_uses, expires_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [row.name, row.hash, row.max_uses, row.expires_at, row.created_at, row.created_by]
        )) as { id: number }
        await pgRecordAudit(q, audit, this.clock.now())
        const { hash: _hash, ...info } = row
        return { ...info, id: inserted.id, uses: 0, revoked_at: null }
      })
    } catch (err) {
      if (uniqueViolation(err) !== undefined) {
        throw new EnrollmentNameTaken(`an active enrollment token named "${row.name}" exists: revoke it first or choose another name`)
      }
      throw err
    }
  }

  async enrollmentTokens(): Promise<EnrollmentTokenRow[]> {
    return all(this.pool, 'SELECT id, name, max_uses, uses, expires_at, created_at, created_by, revoked_at FROM enrollment_tokens ORDER BY id')
  }

  async enrollmentTokenByHash(hash: string): Promise<(EnrollmentTokenRow & { hash: string }) | undefined> {
    return one(this.pool, 'SELECT * FROM enrollment_tokens WHERE hash = $1', [hash])
  }

  async revokeEnrollmentToken(name: string, audit: AuditEntry): Promise<boolean> {
    return transaction(this.pool, async (q) => {
      const changed = await changes(q, 'UPDATE enrollment_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL', [this.clock.now(), name])
      if (changed > 0) await pgRecordAudit(q, audit, this.clock.now())
      return changed > 0
    })
  }
}
