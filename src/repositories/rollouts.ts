import type { Database, Statement } from 'better-sqlite3'
import type { AuditRepository } from './audit'
import type { Release } from './releases'
import type { RolloutPlansRepository } from './rollout-plans'
import { channelRollback, currentRollout, policyRow } from './rollout-queries'
import { PIN_SELECT, ROLLOUT_SELECT, rolloutAudit, type Actor, type ChannelRollback, type Pin, type Policy, type Rollout, type RolloutChecks, type RolloutStart, type SetbackCounts } from './rollout-rows'

/**
 * Changes to rollouts, policies, pins and channel rollbacks. Every change writes its audit entry in
 * the same transaction, and runs the fleet's checks on the rows it changes in it too.
 */
export class RolloutsRepository {
  private readonly rolloutRow: Statement<[number], Rollout>

  constructor(
    private readonly db: Database,
    private readonly audit: AuditRepository,
    private readonly plans: RolloutPlansRepository
  ) {
    this.rolloutRow = db.prepare(`${ROLLOUT_SELECT} WHERE ro.release_id = ?`)
  }

  async setPercent(board: string, channel: string, percent: number, who: Actor, checks: RolloutChecks): Promise<Rollout> {
    return this.write(() => {
      const current = checks.current(board, channel, currentRollout(this.db, board, channel))
      checks.percent(current)
      this.db.prepare('UPDATE rollouts SET percent = ?, updated_at = ? WHERE release_id = ?').run(percent, Date.now(), current.release_id)
      record(this.audit, who, 'set_percent', current, { from: current.percent, to: percent, state: current.state })
      return this.rolloutRow.get(current.release_id) as Rollout
    })
  }

  /** Pauses or resumes the channel's current rollout, as `checks.state` allows. */
  async changeState(board: string, channel: string, action: 'pause' | 'resume', who: Actor, checks: RolloutChecks): Promise<Rollout> {
    return this.write(() => {
      const current = checks.current(board, channel, currentRollout(this.db, board, channel))
      const to = checks.state(current, action)
      // Going on again forgets why it last halted (the audit log keeps it).
      this.db
        .prepare(
          `UPDATE rollouts SET state = @to, updated_at = @at,
             halted_at = CASE WHEN @to = 'active' THEN NULL ELSE halted_at END,
             halted_reason = CASE WHEN @to = 'active' THEN NULL ELSE halted_reason END,
             halt_failed = CASE WHEN @to = 'active' THEN NULL ELSE halt_failed END,
             halt_tried = CASE WHEN @to = 'active' THEN NULL ELSE halt_tried END
           WHERE release_id = @id`
        )
        .run({ to, at: Date.now(), id: current.release_id })
      record(this.audit, who, action, current, { from: current.state, to, percent: current.percent })
      return this.rolloutRow.get(current.release_id) as Rollout
    })
  }

  /**
   * Stops the rollout of a release by itself (actor `system`) when it is still active; false when
   * it was not (already stopped, or not the kind of state that halts).
   */
  async halt(releaseId: number, counts: SetbackCounts, reason: string): Promise<boolean> {
    return this.write(() => {
      const at = Date.now()
      const changed = this.db
        .prepare(
          `UPDATE rollouts SET state = 'halted', halted_at = ?, halted_reason = ?, halt_failed = ?, halt_tried = ?, updated_at = ?
           WHERE release_id = ? AND state = 'active'`
        )
        .run(at, reason, counts.failed, counts.tried, at, releaseId).changes
      if (changed === 0) return false
      const rollout = this.rolloutRow.get(releaseId) as Rollout
      record(this.audit, { actor: 'system', reason }, 'halt', rollout, { failed: counts.failed, tried: counts.tried, percent: rollout.percent })
      return true
    })
  }

  /**
   * Sends every unpinned device of the channel back to an earlier release with a binary, and marks
   * the rollouts of the releases above it rolled back, so that they do not come back as "the
   * previous release" once a new one is published.
   */
  async rollbackTo(board: string, channel: string, version: string, who: Actor, checks: RolloutChecks): Promise<ChannelRollback> {
    return this.write(() => {
      const current = checks.current(board, channel, currentRollout(this.db, board, channel))
      const found = this.db.prepare('SELECT * FROM releases WHERE board = ? AND version = ?').get(board, version) as Release | undefined
      const target = checks.rollbackTarget(current, version, found)
      const at = Date.now()
      const above = this.db
        .prepare(
          `UPDATE rollouts SET state = 'rolled_back', updated_at = ? WHERE release_id IN
             (SELECT r.id FROM releases r WHERE r.board = ? AND r.channel = ? AND r.sha256 IS NOT NULL AND r.sequence > ?)`
        )
        .run(at, board, channel, target.sequence).changes
      this.db
        .prepare(
          `INSERT INTO channel_rollbacks (board, channel, release_id, at) VALUES (?, ?, ?, ?)
           ON CONFLICT (board, channel) DO UPDATE SET release_id = excluded.release_id, at = excluded.at`
        )
        .run(board, channel, target.id, at)
      record(this.audit, who, 'rollback', { board, channel, version }, { from: current.version, to: version, releases_rolled_back: above })
      return { version: target.version, sequence: target.sequence, at }
    })
  }

  async setPolicy(board: string, channel: string, change: Partial<Policy>, who: Actor): Promise<Policy> {
    return this.write(() => {
      const before = policyRow(this.db, board, channel)
      this.db
        .prepare(
          `INSERT INTO rollout_policies (board, channel, default_percent, halt_min_count, halt_min_ratio, updated_at)
           VALUES (@board, @channel, @default_percent, @halt_min_count, @halt_min_ratio, @at)
           ON CONFLICT (board, channel) DO UPDATE SET
             default_percent = COALESCE(excluded.default_percent, default_percent),
             halt_min_count = COALESCE(excluded.halt_min_count, halt_min_count),
             halt_min_ratio = COALESCE(excluded.halt_min_ratio, halt_min_ratio),
             updated_at = excluded.updated_at`
        )
        .run({
          board,
          channel,
          default_percent: change.default_percent ?? null,
          halt_min_count: change.halt_min_count ?? null,
          halt_min_ratio: change.halt_min_ratio ?? null,
          at: Date.now(),
        })
      const after = policyRow(this.db, board, channel)
      record(this.audit, who, 'policy', { board, channel }, { from: before, to: after })
      return after
    })
  }

  /** Pins devices to a release of their board with a binary; returns the pins. */
  async pinDevices(devices: string[], board: string, version: string, who: Actor, checks: RolloutChecks): Promise<Pin[]> {
    return this.write(() => {
      const found = this.db.prepare('SELECT * FROM releases WHERE board = ? AND version = ?').get(board, version) as Release | undefined
      const release = checks.pinTarget(board, version, found)
      const at = Date.now()
      const upsert = this.db.prepare(`INSERT INTO device_pins (device, board, release_id, pinned_at, pinned_by, reason) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (device) DO UPDATE SET board = excluded.board, release_id = excluded.release_id, pinned_at = excluded.pinned_at,
          pinned_by = excluded.pinned_by, reason = excluded.reason`)
      for (const device of devices) upsert.run(device, board, release.id, at, who.actor, who.reason)
      record(this.audit, who, 'pin', { board, channel: release.channel, version, device: devices.length === 1 ? devices[0] : null }, { devices })
      return devices.map((device) => ({
        device,
        board,
        release_id: release.id,
        version,
        sequence: release.sequence,
        pinned_at: at,
        pinned_by: who.actor,
        reason: who.reason,
      }))
    })
  }

  async unpin(device: string, who: Actor, checks: RolloutChecks): Promise<Pin> {
    return this.write(() => {
      const found = this.db.prepare(`${PIN_SELECT} WHERE p.device = ?`).get(device) as Pin | undefined
      const pin = checks.unpin(device, found)
      const { channel } = this.db.prepare('SELECT channel FROM releases WHERE id = ?').get(pin.release_id) as { channel: string }
      this.db.prepare('DELETE FROM device_pins WHERE device = ?').run(device)
      record(this.audit, who, 'unpin', { board: pin.board, channel, version: pin.version, device }, { was: pin.version })
      return pin
    })
  }

  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate()
    } finally {
      this.plans.changed()
    }
  }
}

/**
 * Starts the rollout of a newly published release at `start.percent`, else the channel's default,
 * and ends a rollback of the channel: a new release is the way forward from it. Runs inside the
 * transaction that records the release.
 */
export function startRollout(db: Database, audit: AuditRepository, release: Release, start: RolloutStart): void {
  const percent = start.percent ?? policyRow(db, release.board, release.channel).default_percent
  const at = Date.now()
  db.prepare(
    `INSERT INTO rollouts (release_id, board, channel, percent, state, started_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)
     ON CONFLICT (release_id) DO UPDATE SET percent = excluded.percent, state = 'active', updated_at = excluded.updated_at`
  ).run(release.id, release.board, release.channel, percent, at, at)
  record(audit, start.who, 'start', release, { percent, source: start.percent === undefined ? 'policy' : 'publish' })
  const rb = channelRollback(db, release.board, release.channel)
  if (rb) {
    db.prepare('DELETE FROM channel_rollbacks WHERE board = ? AND channel = ?').run(release.board, release.channel)
    record(audit, { actor: start.who.actor, reason: `release ${release.version} published` }, 'clear_rollback', release, { was: rb.version })
  }
}

function record(audit: AuditRepository, ...entry: Parameters<typeof rolloutAudit>): void {
  audit.recordSync(rolloutAudit(...entry))
}
