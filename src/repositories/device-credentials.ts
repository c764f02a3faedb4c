import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'
import type { AuditEntry, AuditRepository } from './audit'

export const DEVICE_KEY_STATES = ['pending', 'accepted', 'rejected', 'revoked', 'replaced'] as const
export type DeviceKeyState = (typeof DEVICE_KEY_STATES)[number]

/** One key a device enrolled with, and what became of it. */
export interface DeviceKeyRow {
  device: string
  key_id: string
  /** DER SubjectPublicKeyInfo */
  public_key: Buffer
  board: string
  state: DeviceKeyState
  requested_at: number
  address: string | null
  decided_at: number | null
  decided_by: string | null
}

export interface AllowlistRow {
  device: string
  added_at: number
  added_by: string
  note: string | null
}

export interface EnrollmentTokenRow {
  id: number
  name: string
  max_uses: number | null
  uses: number
  expires_at: number | null
  created_at: number
  created_by: string
  revoked_at: number | null
}

/** A decision on a key, and the audit entry that records it (written in the same transaction). */
export interface KeyDecision {
  device: string
  key_id: string
  state: DeviceKeyState
  decided_by: string
  at: number
  audit: AuditEntry
}

/** The key generation moved from `from` to `to` by one transaction. */
export interface KeyMove {
  from: number
  to: number
}

/** Moves of the key generation remembered: decisions come one at a time, checks every second. */
const KEPT_MOVES = 64

export class EnrollmentNameTaken extends Error {}

/**
 * Device keys, the allow-list, enrollment tokens, the device-token secret and revocations. SQL
 * only: which key is accepted, and when, is decided by fleet/device-admission.ts.
 */
export class DeviceCredentialsRepository {
  private readonly acceptedStatement: Statement<[string], DeviceKeyRow>
  private readonly generationStatement: Statement<[], { generation: number }>
  private readonly keysGenerationStatement: Statement<[], { keys_generation: number }>
  private readonly keyStatement: Statement<[string, string], DeviceKeyRow>
  private readonly movesHere: KeyMove[] = []

  constructor(
    private readonly db: Database,
    private readonly audit: AuditRepository,
    private readonly clock: Clock
  ) {
    this.acceptedStatement = db.prepare("SELECT * FROM device_keys WHERE device = ? AND state = 'accepted'")
    this.generationStatement = db.prepare('SELECT generation FROM device_auth WHERE id = 1')
    this.keysGenerationStatement = db.prepare('SELECT keys_generation FROM device_auth WHERE id = 1')
    this.keyStatement = db.prepare('SELECT * FROM device_keys WHERE device = ? AND key_id = ?')
  }

  // ---- device tokens ----

  /** The 32-byte HMAC secret every instance sharing this database signs device tokens with. */
  async tokenSecret(): Promise<Buffer> {
    return (this.db.prepare('SELECT secret FROM device_auth WHERE id = 1').get() as { secret: Buffer }).secret
  }

  /** Moves whenever a device's tokens are revoked (by any process). */
  async revocationGeneration(): Promise<number> {
    return (this.generationStatement.get() as { generation: number }).generation
  }

  /** Moves whenever a device key is added, decided or removed (by any process). */
  async keysGeneration(): Promise<number> {
    return (this.keysGenerationStatement.get() as { keys_generation: number }).keys_generation
  }

  /** Devices whose tokens issued before `not_before` (ms) are refused. */
  async revocations(): Promise<Array<{ device: string; not_before: number }>> {
    return this.db.prepare('SELECT device, not_before FROM device_revocations').all() as Array<{ device: string; not_before: number }>
  }

  /**
   * Records that a challenge was answered; false, and nothing written, when it already was. The
   * challenges expired by `now` are forgotten first: they are refused before this is asked.
   */
  async useChallenge(nonce: string, expiresAt: number, now: number): Promise<boolean> {
    return this.db
      .transaction((): boolean => {
        this.db.prepare('DELETE FROM used_challenges WHERE expires_at <= ?').run(now)
        return this.db.prepare('INSERT INTO used_challenges (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING').run(nonce, expiresAt).changes === 1
      })
      .immediate()
  }

  // ---- keys ----

  /** The device's accepted key, if it has one. */
  async acceptedKey(device: string): Promise<DeviceKeyRow | undefined> {
    return this.acceptedStatement.get(device)
  }

  async acceptedDevices(limit: number): Promise<string[]> {
    return this.db.prepare("SELECT device FROM device_keys WHERE state = 'accepted' LIMIT ?").pluck().all(limit) as string[]
  }

  async key(device: string, keyId: string): Promise<DeviceKeyRow | undefined> {
    return this.keyStatement.get(device, keyId)
  }

  /** Every key of a device, newest request first. */
  async keysOf(device: string): Promise<DeviceKeyRow[]> {
    return this.db.prepare('SELECT * FROM device_keys WHERE device = ? ORDER BY requested_at DESC, key_id').all(device) as DeviceKeyRow[]
  }

  /** Keys in a state, oldest request first, after (device, key_id) of the previous page. */
  async list(state: DeviceKeyState | undefined, after: { device: string; key_id: string } | null, limit: number): Promise<DeviceKeyRow[]> {
    return this.db
      .prepare(
        `SELECT * FROM device_keys WHERE (@state IS NULL OR state = @state)
           AND (@device IS NULL OR (device, key_id) > (@device, @key_id))
         ORDER BY device, key_id LIMIT @limit`
      )
      .all({ state: state ?? null, device: after?.device ?? null, key_id: after?.key_id ?? null, limit }) as DeviceKeyRow[]
  }

  async pendingCount(): Promise<number> {
    return (this.db.prepare("SELECT count(*) AS n FROM device_keys WHERE state = 'pending'").get() as { n: number }).n
  }

  /**
   * Records an enrollment request: a new key (or a known one asked for again, whose request time
   * and address are refreshed; its state is kept). Other pending keys of the device are dropped:
   * one request waits per device. When `accept` is given the key is accepted in the same
   * transaction, after consuming one use of the enrollment token `consumeToken` (false, and
   * nothing written, when that token has no use left).
   */
  async request(
    key: Pick<DeviceKeyRow, 'device' | 'key_id' | 'public_key' | 'board' | 'address' | 'requested_at'>,
    accept?: { decision: KeyDecision; consumeToken?: number }
  ): Promise<boolean> {
    return this.movingKeys((): boolean => {
      if (accept?.consumeToken !== undefined) {
        const used = this.db
          .prepare(
            `UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ? AND revoked_at IS NULL
               AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > ?)`
          )
          .run(accept.consumeToken, key.requested_at).changes
        if (used === 0) return false
      }
      this.db
        .prepare("DELETE FROM device_keys WHERE device = ? AND key_id <> ? AND state = 'pending'")
        .run(key.device, key.key_id)
      this.db
        .prepare(
          `INSERT INTO device_keys (device, key_id, public_key, board, state, requested_at, address)
           VALUES (@device, @key_id, @public_key, @board, 'pending', @requested_at, @address)
           ON CONFLICT (device, key_id) DO UPDATE SET requested_at = excluded.requested_at, address = excluded.address, board = excluded.board`
        )
        .run(key)
      if (accept) this.decideSync(accept.decision)
      return true
    })
  }

  /**
   * Sets a key's state. Accepting a key replaces the device's other accepted key; revoking or
   * rejecting the accepted key stops every token the device holds and leaves its data unverified.
   */
  async decide(decision: KeyDecision): Promise<void> {
    this.movingKeys(() => this.decideSync(decision))
  }

  /**
   * The moves of the key generation made through this repository, oldest first (the last
   * KEPT_MOVES): an instance that applied its own decisions itself need not read every accepted
   * device again when the generation moved by them alone (src/fleet/enrolled-devices.ts).
   */
  async keyMovesHere(): Promise<KeyMove[]> {
    return [...this.movesHere]
  }

  /**
   * Runs `write` in a transaction holding the write lock from its start, so that the generation
   * read before and after it moved by this write alone, and keeps that move.
   */
  private movingKeys<T>(write: () => T): T {
    return this.db
      .transaction((): T => {
        const from = this.keysGenerationStatement.get()?.keys_generation
        const result = write()
        const to = this.keysGenerationStatement.get()?.keys_generation
        if (from !== undefined && to !== undefined && to !== from) {
          this.movesHere.push({ from, to })
          if (this.movesHere.length > KEPT_MOVES) this.movesHere.shift()
        }
        return result
      })
      .immediate()
  }

  private decideSync(d: KeyDecision): void {
    const before = this.keyStatement.get(d.device, d.key_id)
    if (d.state === 'accepted') {
      this.db
        .prepare("UPDATE device_keys SET state = 'replaced', decided_at = ?, decided_by = ? WHERE device = ? AND key_id <> ? AND state = 'accepted'")
        .run(d.at, d.decided_by, d.device, d.key_id)
    }
    this.db
      .prepare('UPDATE device_keys SET state = ?, decided_at = ?, decided_by = ? WHERE device = ? AND key_id = ?')
      .run(d.state, d.at, d.decided_by, d.device, d.key_id)
    if (before?.state === 'accepted' && d.state !== 'accepted') {
      this.db
        .prepare('INSERT INTO device_revocations (device, not_before) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET not_before = excluded.not_before')
        .run(d.device, d.at)
      this.db.prepare('UPDATE devices SET verified = 0 WHERE device = ?').run(d.device)
    }
    this.audit.recordSync(d.audit)
  }

  // ---- the allow-list ----

  async allowed(device: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM device_allowlist WHERE device = ?').get(device) !== undefined
  }

  /** Adds devices (those already listed are kept as they are); returns how many were new. */
  async allow(devices: string[], by: string, note: string | null, audit: AuditEntry): Promise<number> {
    return this.db.transaction((): number => {
      const insert = this.db.prepare('INSERT OR IGNORE INTO device_allowlist (device, added_at, added_by, note) VALUES (?, ?, ?, ?)')
      const at = this.clock.now()
      let added = 0
      for (const device of devices) added += insert.run(device, at, by, note).changes
      this.audit.recordSync({ ...audit, details: { ...audit.details, added } })
      return added
    })()
  }

  async disallow(devices: string[], audit: AuditEntry): Promise<number> {
    return this.db.transaction((): number => {
      const remove = this.db.prepare('DELETE FROM device_allowlist WHERE device = ?')
      let removed = 0
      for (const device of devices) removed += remove.run(device).changes
      this.audit.recordSync({ ...audit, details: { ...audit.details, removed } })
      return removed
    })()
  }

  async allowlist(after: string | null, limit: number): Promise<AllowlistRow[]> {
    return this.db
      .prepare('SELECT * FROM device_allowlist WHERE (@after IS NULL OR device > @after) ORDER BY device LIMIT @limit')
      .all({ after, limit }) as AllowlistRow[]
  }

  // ---- enrollment tokens ----

  async createEnrollmentToken(
    row: Omit<EnrollmentTokenRow, 'id' | 'uses' | 'revoked_at'> & { hash: string },
    audit: AuditEntry
  ): Promise<EnrollmentTokenRow> {
    return this.db.transaction((): EnrollmentTokenRow => {
      try {
        const id = Number(
          this.db
            .prepare(
              `INSERT INTO enrollment_tokens (name, hash, max_uses, expires_at, created_at, created_by)
               VALUES (@name, @hash, @max_uses, @expires_at, @created_at, @created_by)`
            )
            .run(row).lastInsertRowid
        )
        this.audit.recordSync(audit)
        const { hash: _hash, ...info } = row
        return { ...info, id, uses: 0, revoked_at: null }
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new EnrollmentNameTaken(`an active enrollment token named "${row.name}" exists: revoke it first or choose another name`)
        }
        throw err
      }
    })()
  }

  async enrollmentTokens(): Promise<EnrollmentTokenRow[]> {
    return this.db
      .prepare('SELECT id, name, max_uses, uses, expires_at, created_at, created_by, revoked_at FROM enrollment_tokens ORDER BY id')
      .all() as EnrollmentTokenRow[]
  }

  /** The enrollment token stored with this hash (hex), with the hash itself for a constant-time comparison. */
  async enrollmentTokenByHash(hash: string): Promise<(EnrollmentTokenRow & { hash: string }) | undefined> {
    return this.db.prepare('SELECT * FROM enrollment_tokens WHERE hash = ?').get(hash) as (EnrollmentTokenRow & { hash: string }) | undefined
  }

  /** Revokes the active enrollment token of that name; false when there is none. */
  async revokeEnrollmentToken(name: string, audit: AuditEntry): Promise<boolean> {
    return this.db.transaction((): boolean => {
      const changed = this.db.prepare('UPDATE enrollment_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(this.clock.now(), name).changes
      if (changed > 0) this.audit.recordSync(audit)
      return changed > 0
    })()
  }
}
