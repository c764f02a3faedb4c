import type pg from 'pg'
import type { Clock } from '../../clock'
import { all, changes, one } from '../../db/postgres'
import type { DeltaPatchRow, DeltaPatchView, DeltaPatchesRepository, DeltaSavings } from '../delta-patches'
import type { Shape } from '../shape'
import { BoundedCache } from '../bounded-cache'

/** Patches a device took and runs, less those whose apply it reported failed (dr: device_releases, r: releases). */
const SAVED = `dr.booted_at IS NOT NULL AND dr.delta_base IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM delta_failures f WHERE f.device = dr.device AND f.base_sha256 = dr.delta_base AND f.target_sha256 = r.sha256)`

export class PgDeltaPatchesRepository implements Shape<DeltaPatchesRepository> {
  private readonly held = new BoundedCache<string, DeltaPatchRow | null>()

  constructor(private readonly pool: pg.Pool,
    private readonly clock: Clock) {}

  changed(): void {
    this.held.clear()
  }

  async get(base: string, target: string): Promise<DeltaPatchRow | undefined> {
    const key = `${base}|${target}`
    const held = this.held.get(key)
    if (held !== undefined) return held ?? undefined
    const row = await one<DeltaPatchRow>(this.pool, 'SELECT * FROM delta_patches WHERE base_sha256 = $1 AND target_sha256 = $2', [base, target])
    this.held.set(key, row ? Object.freeze(row) : null)
    return row
  }

  async claimBuild(pair: { base: string; target: string; board: string }): Promise<boolean> {
    const at = this.clock.now()
    const claimed = await changes(
      this.pool,
      `INSERT INTO delta_patches (base_sha256, target_sha256, board, state, created_at, updated_at)
       VALUES ($1, $2, $3, 'building', $4, $4) ON CONFLICT DO NOTHING`,
      [pair.base, pair.target, pair.board, at]
    )
    this.held.delete(`${pair.base}|${pair.target}`)
    return claimed === 1
  }

  async markReady(base: string, target: string, patch: { sha256: string; size: number; buildMs: number }): Promise<void> {
    await this.pool.query(
      `UPDATE delta_patches SET state = 'ready', sha256 = $1, size = $2, build_ms = $3, error = NULL, updated_at = $4
       WHERE base_sha256 = $5 AND target_sha256 = $6`,
      [patch.sha256, patch.size, patch.buildMs, this.clock.now(), base, target]
    )
    this.held.delete(`${base}|${target}`)
  }

  async markFailed(base: string, target: string, error: string): Promise<void> {
    await this.pool.query(`UPDATE delta_patches SET state = 'failed', error = $1, updated_at = $2 WHERE base_sha256 = $3 AND target_sha256 = $4`, [
      error.slice(0, 500),
      this.clock.now(),
      base,
      target,
    ])
    this.held.delete(`${base}|${target}`)
  }

  async unfinished(): Promise<Array<{ base_sha256: string; target_sha256: string; board: string }>> {
    return all(this.pool, "SELECT base_sha256, target_sha256, board FROM delta_patches WHERE state = 'building'")
  }

  async recordFailure(f: { device: string; base: string; target: string; detail: string | null; verified: boolean; onlyVerified: boolean }): Promise<number> {
    await this.pool.query(
      `INSERT INTO delta_failures AS x (device, base_sha256, target_sha256, detail, at, verified) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (base_sha256, target_sha256, device) DO UPDATE SET verified = 1, detail = excluded.detail, at = excluded.at
       WHERE excluded.verified = 1 AND x.verified = 0`,
      [f.device, f.base, f.target, f.detail, this.clock.now(), f.verified ? 1 : 0]
    )
    const row = await one<{ n: number }>(
      this.pool,
      'SELECT count(*) AS n FROM delta_failures WHERE base_sha256 = $1 AND target_sha256 = $2 AND ($3 = 0 OR verified = 1)',
      [f.base, f.target, f.onlyVerified ? 1 : 0]
    )
    return (row as { n: number }).n
  }

  async disable(base: string, target: string): Promise<void> {
    const at = this.clock.now()
    await this.pool.query('UPDATE delta_patches SET disabled_at = $1, updated_at = $1 WHERE base_sha256 = $2 AND target_sha256 = $3 AND disabled_at IS NULL', [
      at,
      base,
      target,
    ])
    this.held.delete(`${base}|${target}`)
  }

  async deviceRunning(device: string): Promise<{ board: string; running_sha256: string | null } | undefined> {
    return one(this.pool, 'SELECT board, running_sha256 FROM devices WHERE device = $1', [device])
  }

  async deviceFailed(device: string, base: string, target: string): Promise<boolean> {
    return (await one(this.pool, 'SELECT at FROM delta_failures WHERE base_sha256 = $1 AND target_sha256 = $2 AND device = $3', [base, target, device])) !== undefined
  }

  async boardDeltaEnabled(board: string): Promise<boolean> {
    return (await one<{ delta_enabled: number }>(this.pool, 'SELECT delta_enabled FROM boards WHERE name = $1', [board]))?.delta_enabled === 1
  }

  async setBoardDelta(board: string, enabled: boolean): Promise<boolean> {
    return (await changes(this.pool, 'UPDATE boards SET delta_enabled = $1 WHERE name = $2', [enabled ? 1 : 0, board])) === 1
  }

  async toTarget(target: string): Promise<DeltaPatchView[]> {
    return all(
      this.pool,
      `SELECT p.*, (SELECT count(*) FROM delta_failures f WHERE f.base_sha256 = p.base_sha256 AND f.target_sha256 = p.target_sha256) AS failures
       FROM delta_patches p WHERE p.target_sha256 = $1 ORDER BY p.created_at, p.base_sha256`,
      [target]
    )
  }

  async savings(releaseId: number): Promise<DeltaSavings> {
    return (await one<DeltaSavings>(
      this.pool,
      `SELECT count(*) AS devices, coalesce(sum(r.size - dr.delta_size), 0) AS bytes_saved
       FROM device_releases dr JOIN releases r ON r.id = dr.release_id WHERE dr.release_id = $1 AND ${SAVED}`,
      [releaseId]
    )) as DeltaSavings
  }

  async savingsByRelease(board?: string): Promise<Map<number, DeltaSavings>> {
    const rows = await all<DeltaSavings & { id: number }>(
      this.pool,
      `SELECT dr.release_id AS id, count(*) AS devices, coalesce(sum(r.size - dr.delta_size), 0) AS bytes_saved
       FROM device_releases dr JOIN releases r ON r.id = dr.release_id
       WHERE ($1::text IS NULL OR r.board = $1) AND ${SAVED} GROUP BY dr.release_id`,
      [board ?? null]
    )
    return new Map(rows.map((r) => [r.id, { devices: r.devices, bytes_saved: r.bytes_saved }]))
  }

  async popularBases(board: string, share: number, verifiedOnly: boolean): Promise<string[]> {
    const rows = await all<{ sha256: string }>(
      this.pool,
      `WITH counts AS (
         SELECT version, sum(CASE WHEN $3 THEN verified ELSE devices END) AS n FROM fleet_versions WHERE board = $1 GROUP BY version),
         total AS (SELECT sum(n) AS t FROM counts)
       SELECT r.sha256 FROM counts c JOIN releases r ON r.board = $1 AND r.version = c.version, total
       WHERE r.sha256 IS NOT NULL AND c.n > $2 * total.t`,
      [board, share, verifiedOnly]
    )
    return rows.map((r) => r.sha256)
  }
}
