import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'

export type DeltaPatchState = 'building' | 'ready' | 'failed'

export interface DeltaPatchRow {
  base_sha256: string
  target_sha256: string
  board: string
  state: DeltaPatchState
  sha256: string | null
  size: number | null
  build_ms: number | null
  error: string | null
  disabled_at: number | null
  created_at: number
  updated_at: number
}

/** A patch with the count of devices that reported failing to apply it. */
export interface DeltaPatchView extends DeltaPatchRow {
  failures: number
}

export interface DeltaSavings {
  /** devices now running the release that were offered it as a delta and did not report a failed apply */
  devices: number
  /** full image bytes minus patch bytes, over those devices */
  bytes_saved: number
}

/** Delta patches, delta failures, devices' running digests and the per-board switch: SQL only. */
export class DeltaPatchesRepository {
  private readonly byPair: Statement<[string, string], DeltaPatchRow>
  private readonly claim: Statement
  private readonly failureCount: Statement<[{ base: string; target: string; onlyVerified: number }], { n: number }>
  private readonly failedDevice: Statement<[string, string, string], { at: number }>
  private readonly boardEnabled: Statement<[string], { delta_enabled: number }>
  // Polls look a pair up on every delta-capable request; rows change only through this repository.
  private readonly held = new Map<string, DeltaPatchRow | null>()

  constructor(private readonly db: Database,
    private readonly clock: Clock
  ) {
    this.byPair = db.prepare('SELECT * FROM delta_patches WHERE base_sha256 = ? AND target_sha256 = ?')
    this.claim = db.prepare(`INSERT INTO delta_patches (base_sha256, target_sha256, board, state, created_at, updated_at)
      VALUES (@base, @target, @board, 'building', @at, @at) ON CONFLICT DO NOTHING`)
    this.failureCount = db.prepare(
      'SELECT count(*) AS n FROM delta_failures WHERE base_sha256 = @base AND target_sha256 = @target AND (@onlyVerified = 0 OR verified = 1)'
    )
    this.failedDevice = db.prepare('SELECT at FROM delta_failures WHERE base_sha256 = ? AND target_sha256 = ? AND device = ?')
    this.boardEnabled = db.prepare('SELECT delta_enabled FROM boards WHERE name = ?')
  }

  private key(base: string, target: string): string {
    return `${base}|${target}`
  }

  /** After another instance's change to delta_patches (the change feed): every held row is read again. */
  changed(): void {
    this.held.clear()
  }

  async get(base: string, target: string): Promise<DeltaPatchRow | undefined> {
    const key = this.key(base, target)
    const held = this.held.get(key)
    if (held !== undefined) return held ?? undefined
    const row = this.byPair.get(base, target)
    if (this.held.size >= 10_000) this.held.clear()
    this.held.set(key, row ? Object.freeze(row) : null)
    return row
  }

  /** Starts a build of the pair unless one was started before; true when this call claimed it. */
  async claimBuild(pair: { base: string; target: string; board: string }): Promise<boolean> {
    const claimed = this.claim.run({ ...pair, at: this.clock.now() }).changes === 1
    this.held.delete(this.key(pair.base, pair.target))
    return claimed
  }

  async markReady(base: string, target: string, patch: { sha256: string; size: number; buildMs: number }): Promise<void> {
    this.db
      .prepare(`UPDATE delta_patches SET state = 'ready', sha256 = ?, size = ?, build_ms = ?, error = NULL, updated_at = ?
        WHERE base_sha256 = ? AND target_sha256 = ?`)
      .run(patch.sha256, patch.size, patch.buildMs, this.clock.now(), base, target)
    this.held.delete(this.key(base, target))
  }

  async markFailed(base: string, target: string, error: string): Promise<void> {
    this.db
      .prepare(`UPDATE delta_patches SET state = 'failed', error = ?, updated_at = ? WHERE base_sha256 = ? AND target_sha256 = ?`)
      .run(error.slice(0, 500), this.clock.now(), base, target)
    this.held.delete(this.key(base, target))
  }

  /** Builds a server stopped in the middle of: they start again. */
  async unfinished(): Promise<Array<{ base_sha256: string; target_sha256: string; board: string }>> {
    return this.db.prepare("SELECT base_sha256, target_sha256, board FROM delta_patches WHERE state = 'building'").all() as Array<{
      base_sha256: string
      target_sha256: string
      board: string
    }>
  }

  /**
   * Records a device's failed apply of the pair (once per device; a verified report replaces an
   * unverified one); returns how many devices failed it, only verified ones when `onlyVerified`.
   */
  async recordFailure(f: { device: string; base: string; target: string; detail: string | null; verified: boolean; onlyVerified: boolean }): Promise<number> {
    this.db
      .prepare(`INSERT INTO delta_failures (device, base_sha256, target_sha256, detail, at, verified) VALUES (@device, @base, @target, @detail, @at, @verified)
        ON CONFLICT DO UPDATE SET verified = 1, detail = excluded.detail, at = excluded.at WHERE excluded.verified = 1 AND verified = 0`)
      .run({ device: f.device, base: f.base, target: f.target, detail: f.detail, at: this.clock.now(), verified: f.verified ? 1 : 0 })
    return (this.failureCount.get({ base: f.base, target: f.target, onlyVerified: f.onlyVerified ? 1 : 0 }) as { n: number }).n
  }

  /** Switches the patch off for everyone (once: the first time stays recorded). */
  async disable(base: string, target: string): Promise<void> {
    const at = this.clock.now()
    this.db
      .prepare('UPDATE delta_patches SET disabled_at = ?, updated_at = ? WHERE base_sha256 = ? AND target_sha256 = ? AND disabled_at IS NULL')
      .run(at, at, base, target)
    this.held.delete(this.key(base, target))
  }

  /** The board a device polls for and the SHA-256 it last said it runs. */
  async deviceRunning(device: string): Promise<{ board: string; running_sha256: string | null } | undefined> {
    return this.db.prepare('SELECT board, running_sha256 FROM devices WHERE device = ?').get(device) as
      | { board: string; running_sha256: string | null }
      | undefined
  }

  async deviceFailed(device: string, base: string, target: string): Promise<boolean> {
    return this.failedDevice.get(base, target, device) !== undefined
  }

  async boardDeltaEnabled(board: string): Promise<boolean> {
    return this.boardEnabled.get(board)?.delta_enabled === 1
  }

  /** Turns deltas on or off for a board; false when the board is unknown. */
  async setBoardDelta(board: string, enabled: boolean): Promise<boolean> {
    return this.db.prepare('UPDATE boards SET delta_enabled = ? WHERE name = ?').run(enabled ? 1 : 0, board).changes === 1
  }

  /** The patches to a target, with their failure counts, base first by when it was made. */
  async toTarget(target: string): Promise<DeltaPatchView[]> {
    return this.db
      .prepare(`SELECT p.*, (SELECT count(*) FROM delta_failures f WHERE f.base_sha256 = p.base_sha256 AND f.target_sha256 = p.target_sha256) AS failures
        FROM delta_patches p WHERE p.target_sha256 = ? ORDER BY p.created_at, p.base_sha256`)
      .all(target) as DeltaPatchView[]
  }

  /** What deltas saved for a release: devices that took it by delta and now run it. */
  async savings(releaseId: number): Promise<DeltaSavings> {
    const row = this.db
      .prepare(`SELECT count(*) AS devices, coalesce(sum(r.size - dr.delta_size), 0) AS bytes_saved
        FROM device_releases dr JOIN releases r ON r.id = dr.release_id
        WHERE dr.release_id = ? AND dr.booted_at IS NOT NULL AND dr.delta_base IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM delta_failures f
            WHERE f.device = dr.device AND f.base_sha256 = dr.delta_base AND f.target_sha256 = r.sha256)`)
      .get(releaseId) as DeltaSavings
    return row
  }

  /** Savings of every release of a board (or all boards), keyed by release id. */
  async savingsByRelease(board?: string): Promise<Map<number, DeltaSavings>> {
    const rows = this.db
      .prepare(`SELECT dr.release_id AS id, count(*) AS devices, coalesce(sum(r.size - dr.delta_size), 0) AS bytes_saved
        FROM device_releases dr JOIN releases r ON r.id = dr.release_id
        WHERE (@board IS NULL OR r.board = @board) AND dr.booted_at IS NOT NULL AND dr.delta_base IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM delta_failures f
            WHERE f.device = dr.device AND f.base_sha256 = dr.delta_base AND f.target_sha256 = r.sha256)
        GROUP BY dr.release_id`)
      .all({ board: board ?? null }) as Array<DeltaSavings & { id: number }>
    return new Map(rows.map((r) => [r.id, { devices: r.devices, bytes_saved: r.bytes_saved }]))
  }

  /**
   * Binaries of a board's releases run by more than `share` (0-1) of its devices, by the version they
   * report; with `verifiedOnly`, counting only devices that proved who they are.
   */
  async popularBases(board: string, share: number, verifiedOnly: boolean): Promise<string[]> {
    const rows = this.db
      // fleet_versions: the per-version counts the device triggers keep (no scan of the devices).
      .prepare(`WITH counts AS (
          SELECT version, sum(CASE WHEN @verifiedOnly = 1 THEN verified ELSE devices END) AS n
          FROM fleet_versions WHERE board = @board GROUP BY version),
          total AS (SELECT sum(n) AS t FROM counts)
        SELECT r.sha256 FROM counts c JOIN releases r ON r.board = @board AND r.version = c.version, total
        WHERE r.sha256 IS NOT NULL AND c.n > @share * total.t`)
      .all({ board, share, verifiedOnly: verifiedOnly ? 1 : 0 }) as Array<{ sha256: string }>
    return rows.map((r) => r.sha256)
  }
}
