import type { Database, Statement } from 'better-sqlite3'
import type { AuditEntry, AuditRepository } from './audit'
import type { Release } from './releases'

export type RolloutState = 'active' | 'paused' | 'halted' | 'rolled_back'

/** How far one release reaches its channel. */
export interface Rollout {
  release_id: number
  board: string
  channel: string
  version: string
  sequence: number
  percent: number
  state: RolloutState
  started_at: number
  updated_at: number
  halted_at: number | null
  halted_reason: string | null
  halt_failed: number | null
  halt_tried: number | null
}

export interface Policy {
  default_percent: number
  halt_min_count: number
  halt_min_ratio: number
}

/** hawkBit-like defaults: a release reaches everyone unless told otherwise; 5 devices and 20% halt it. */
export const DEFAULT_POLICY: Policy = { default_percent: 100, halt_min_count: 5, halt_min_ratio: 0.2 }

/** A release of a channel with a binary, and how far it reaches. */
export interface StagedRelease {
  release: Release
  percent: number
  state: RolloutState
}

/** What the device endpoints need to choose a target on one board and channel. */
export interface ChannelPlan {
  /** releases with a binary, newest first */
  releases: StagedRelease[]
  /** the release every unpinned device is sent back to, while an operator's rollback lasts */
  rollback: Release | null
  /** the newest release with a binary, whatever its rollout */
  newest: Release | null
}

export interface Pin {
  device: string
  board: string
  release_id: number
  version: string
  sequence: number
  pinned_at: number
  pinned_by: string
  reason: string | null
}

export interface ChannelRollback {
  version: string
  sequence: number
  at: number
}

/** Devices of a release that tried it (downloading or further) and those that failed or rolled back. */
export interface SetbackCounts {
  failed: number
  tried: number
}

export type RolloutRefusalCode = 'no_release' | 'release_not_found' | 'rollout_conflict' | 'pin_not_found'

/** A change that the current state does not allow; routes answer `status` with `code`. */
export class RolloutRefusal extends Error {
  constructor(
    readonly status: 404 | 409,
    readonly code: RolloutRefusalCode,
    message: string
  ) {
    super(message)
    this.name = 'RolloutRefusal'
  }
}

/** Who asks for a change, and why. */
export interface Actor {
  actor: string
  reason: string | null
}

/**
 * How often a server re-reads the generation counter that triggers move on every rollout change:
 * changes made by this process are seen at once, those of another process within this time.
 */
const GENERATION_TTL_MS = 1000

/** Board/channel entries kept: polls may name any well-formed board or channel, known or not. */
const MAX_CACHED = 1024

type RolloutJoin = Release & { percent: number | null; state: RolloutState | null }

/**
 * Rollouts, policies, pins and channel rollbacks. Every change writes its audit entry in the same
 * transaction. The device endpoints read through a cache keyed by the DB's generation counter, so
 * a poll costs no query while nothing changes.
 */
export class RolloutsRepository {
  private readonly generation: Statement<[], { n: number }>
  private readonly channelReleases: Statement<[string, string], RolloutJoin>
  private readonly rollbackOf: Statement<[string, string], Release & { rollback_at: number }>
  private readonly pinsOf: Statement<[string], Release & { device: string }>
  private readonly rolloutRow: Statement<[number], Rollout>
  private readonly ensureRow: Statement
  private readonly failed: Statement<[number], { n: number }>
  private readonly failedVerified: Statement<[number], { n: number }>
  private readonly plans = new Map<string, ChannelPlan>()
  private readonly pins = new Map<string, Map<string, Release>>()
  private generationSeen = -1
  private checkedAt = 0

  constructor(
    private readonly db: Database,
    private readonly audit: AuditRepository
  ) {
    this.generation = db.prepare('SELECT n FROM rollout_generation WHERE id = 1')
    // The WHERE repeats the partial index device_releases_setbacks, so that SQLite uses it.
    this.failed = db.prepare(
      'SELECT count(*) AS n FROM device_releases WHERE release_id = ? AND (failed_at IS NOT NULL OR rolled_back_at IS NOT NULL)'
    )
    this.failedVerified = db.prepare(
      `SELECT count(*) AS n FROM device_releases dr JOIN devices d ON d.device = dr.device
       WHERE dr.release_id = ? AND (dr.failed_at IS NOT NULL OR dr.rolled_back_at IS NOT NULL) AND d.verified = 1`
    )
    this.channelReleases = db.prepare(`SELECT r.*, ro.percent, ro.state FROM releases r LEFT JOIN rollouts ro ON ro.release_id = r.id
      WHERE r.board = ? AND r.channel = ? AND r.sha256 IS NOT NULL ORDER BY r.sequence DESC`)
    this.rollbackOf = db.prepare(`SELECT r.*, cr.at AS rollback_at FROM channel_rollbacks cr JOIN releases r ON r.id = cr.release_id
      WHERE cr.board = ? AND cr.channel = ?`)
    this.pinsOf = db.prepare('SELECT r.*, p.device FROM device_pins p JOIN releases r ON r.id = p.release_id WHERE p.board = ?')
    this.rolloutRow = db.prepare(`SELECT ro.*, r.version, r.sequence FROM rollouts ro JOIN releases r ON r.id = ro.release_id
      WHERE ro.release_id = ?`)
    // Releases published before rollouts existed have no row and count as fully rolled out.
    this.ensureRow = db.prepare(`INSERT OR IGNORE INTO rollouts (release_id, board, channel, percent, state, started_at, updated_at)
      SELECT id, board, channel, 100, 'active', created_at, created_at FROM releases WHERE id = ?`)
  }

  // ---- reads for the device endpoints (cached) ----

  /** The releases of a board and channel with their rollouts, and the channel's rollback, if any. */
  async plan(board: string, channel: string): Promise<ChannelPlan> {
    this.refresh()
    const key = `${board}|${channel}`
    let plan = this.plans.get(key)
    if (!plan) {
      const releases = this.channelReleases.all(board, channel).map(({ percent, state, ...release }) => ({
        release: release as Release,
        percent: percent ?? 100,
        state: state ?? 'active',
      }))
      const rb = this.rollbackOf.get(board, channel)
      let rollback: Release | null = null
      if (rb) {
        const { rollback_at: _at, ...release } = rb
        rollback = release
      }
      plan = { releases, rollback, newest: releases[0]?.release ?? null }
      if (this.plans.size >= MAX_CACHED) this.plans.clear()
      this.plans.set(key, plan)
    }
    return plan
  }

  /** The release a device of `board` is pinned to, if any. */
  async pinned(board: string, device: string): Promise<Release | undefined> {
    this.refresh()
    let byDevice = this.pins.get(board)
    if (!byDevice) {
      byDevice = new Map(this.pinsOf.all(board).map(({ device: d, ...release }) => [d, release as Release]))
      if (this.pins.size >= MAX_CACHED) this.pins.clear()
      this.pins.set(board, byDevice)
    }
    return byDevice.get(device)
  }

  private refresh(): void {
    const now = Date.now()
    if (now - this.checkedAt < GENERATION_TTL_MS) return
    this.checkedAt = now
    const { n } = this.generation.get() as { n: number }
    if (n !== this.generationSeen) {
      this.generationSeen = n
      this.plans.clear()
      this.pins.clear()
    }
  }

  /** After a change: the next read re-reads the generation, which the change's triggers moved. */
  private changed(): void {
    this.checkedAt = 0
  }

  // ---- reads for operators ----

  async get(releaseId: number): Promise<Rollout | undefined> {
    const row = this.rolloutRow.get(releaseId)
    if (row) return row
    const release = this.db.prepare('SELECT * FROM releases WHERE id = ? AND sha256 IS NOT NULL').get(releaseId) as Release | undefined
    return release ? implicitRollout(release) : undefined
  }

  /** Rollouts of the releases of a board (and channel), by release id. */
  async byRelease(filter: { board?: string; channel?: string }): Promise<Map<number, Rollout>> {
    const rows = this.db
      .prepare(
        `SELECT ro.*, r.version, r.sequence FROM rollouts ro JOIN releases r ON r.id = ro.release_id
         WHERE (@board IS NULL OR ro.board = @board) AND (@channel IS NULL OR ro.channel = @channel)`
      )
      .all({ board: filter.board ?? null, channel: filter.channel ?? null }) as Rollout[]
    return new Map(rows.map((r) => [r.release_id, r]))
  }

  /** Channels of a board that have releases, in name order. */
  async channels(board: string): Promise<string[]> {
    return (this.db.prepare('SELECT DISTINCT channel FROM releases WHERE board = ? ORDER BY channel').all(board) as Array<{ channel: string }>).map(
      (r) => r.channel
    )
  }

  /** The rollout of the newest release with a binary on the channel. */
  async current(board: string, channel: string): Promise<Rollout | undefined> {
    return this.currentSync(board, channel)
  }

  async policy(board: string, channel: string): Promise<Policy> {
    return this.policySync(board, channel)
  }

  async rollback(board: string, channel: string): Promise<ChannelRollback | undefined> {
    const rb = this.rollbackOf.get(board, channel)
    return rb ? { version: rb.version, sequence: rb.sequence, at: rb.rollback_at } : undefined
  }

  async pinsList(filter: { board?: string }): Promise<Pin[]> {
    return this.db
      .prepare(
        `SELECT p.device, p.board, p.release_id, r.version, r.sequence, p.pinned_at, p.pinned_by, p.reason
         FROM device_pins p JOIN releases r ON r.id = p.release_id WHERE (@board IS NULL OR p.board = @board) ORDER BY p.device`
      )
      .all({ board: filter.board ?? null }) as Pin[]
  }

  async pin(device: string): Promise<Pin | undefined> {
    return this.db
      .prepare(
        `SELECT p.device, p.board, p.release_id, r.version, r.sequence, p.pinned_at, p.pinned_by, p.reason
         FROM device_pins p JOIN releases r ON r.id = p.release_id WHERE p.device = ?`
      )
      .get(device) as Pin | undefined
  }

  /** Devices that failed or rolled back the release, through the small index of such rows. */
  /** Devices that failed or rolled back the release: only verified devices when `onlyVerified`. */
  async failedCount(releaseId: number, onlyVerified: boolean): Promise<number> {
    return ((onlyVerified ? this.failedVerified : this.failed).get(releaseId) as { n: number }).n
  }

  async setbackCounts(releaseId: number, onlyVerified: boolean): Promise<SetbackCounts> {
    return this.db
      .prepare(
        `SELECT coalesce(sum(failed_at IS NOT NULL OR rolled_back_at IS NOT NULL), 0) AS failed,
           coalesce(sum(downloading_at IS NOT NULL OR downloaded_at IS NOT NULL OR installed_at IS NOT NULL OR booted_at IS NOT NULL
             OR failed_at IS NOT NULL OR rolled_back_at IS NOT NULL), 0) AS tried
         FROM device_releases dr ${onlyVerified ? 'JOIN devices d ON d.device = dr.device AND d.verified = 1' : ''} WHERE release_id = ?`
      )
      .get(releaseId) as SetbackCounts
  }

  // ---- changes (each with its audit entry, in one transaction) ----

  /**
   * Starts the rollout of a newly published release at `percent`, else the channel's default, and
   * ends a rollback of the channel: a new release is the way forward from it.
   */
  async start(release: Release, percent: number | undefined, who: Actor): Promise<Rollout> {
    return this.write(() => {
      const policy = this.policySync(release.board, release.channel)
      const start = percent ?? policy.default_percent
      const at = Date.now()
      this.db
        .prepare(
          `INSERT INTO rollouts (release_id, board, channel, percent, state, started_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?)
           ON CONFLICT (release_id) DO UPDATE SET percent = excluded.percent, state = 'active', updated_at = excluded.updated_at`
        )
        .run(release.id, release.board, release.channel, start, at, at)
      this.record(who, 'start', release, { percent: start, source: percent === undefined ? 'policy' : 'publish' })
      const rb = this.rollbackOf.get(release.board, release.channel)
      if (rb) {
        this.db.prepare('DELETE FROM channel_rollbacks WHERE board = ? AND channel = ?').run(release.board, release.channel)
        this.record({ actor: who.actor, reason: `release ${release.version} published` }, 'clear_rollback', release, { was: rb.version })
      }
      return this.rolloutRow.get(release.id) as Rollout
    })
  }

  async setPercent(board: string, channel: string, percent: number, who: Actor): Promise<Rollout> {
    return this.write(() => {
      const current = this.requireCurrent(board, channel)
      if (current.state === 'rolled_back') {
        throw new RolloutRefusal(409, 'rollout_conflict', `release ${current.version} was rolled back: publish a new release to move forward`)
      }
      this.db.prepare('UPDATE rollouts SET percent = ?, updated_at = ? WHERE release_id = ?').run(percent, Date.now(), current.release_id)
      this.record(who, 'set_percent', current, { from: current.percent, to: percent, state: current.state })
      return this.rolloutRow.get(current.release_id) as Rollout
    })
  }

  async pause(board: string, channel: string, who: Actor): Promise<Rollout> {
    return this.changeState(board, channel, who, 'pause', ['active'], 'paused')
  }

  async resume(board: string, channel: string, who: Actor): Promise<Rollout> {
    return this.changeState(board, channel, who, 'resume', ['paused', 'halted'], 'active')
  }

  /**
   * Stops the rollout of a release by itself (actor `system`) when it is still active; false when
   * it was not (already stopped, or not the kind of state that halts).
   */
  async halt(releaseId: number, counts: SetbackCounts, reason: string): Promise<boolean> {
    return this.write(() => {
      this.ensureRow.run(releaseId)
      const at = Date.now()
      const changed = this.db
        .prepare(
          `UPDATE rollouts SET state = 'halted', halted_at = ?, halted_reason = ?, halt_failed = ?, halt_tried = ?, updated_at = ?
           WHERE release_id = ? AND state = 'active'`
        )
        .run(at, reason, counts.failed, counts.tried, at, releaseId).changes
      if (changed === 0) return false
      const rollout = this.rolloutRow.get(releaseId) as Rollout
      this.record({ actor: 'system', reason }, 'halt', rollout, { failed: counts.failed, tried: counts.tried, percent: rollout.percent })
      return true
    })
  }

  /**
   * Sends every unpinned device of the channel back to an earlier release with a binary, and marks
   * the rollouts of the releases above it rolled back, so that they do not come back as "the
   * previous release" once a new one is published.
   */
  async rollbackTo(board: string, channel: string, version: string, who: Actor): Promise<ChannelRollback> {
    return this.write(() => {
      const current = this.requireCurrent(board, channel)
      const target = this.db.prepare('SELECT * FROM releases WHERE board = ? AND version = ?').get(board, version) as Release | undefined
      if (!target) throw new RolloutRefusal(404, 'release_not_found', `board ${board} has no release named ${version}: list them with \`ota-gate release list --board ${board}\``)
      if (target.sha256 === null) {
        throw new RolloutRefusal(409, 'rollout_conflict', `release ${version} is a historical release without a binary: roll back to a release published through ota-gate`)
      }
      if (target.sequence >= current.sequence) {
        throw new RolloutRefusal(
          409,
          'rollout_conflict',
          `release ${version} (sequence ${target.sequence}) is not earlier than ${current.version} (sequence ${current.sequence}), the newest on ${board}/${channel}: name an earlier release`
        )
      }
      const at = Date.now()
      const above = this.db
        .prepare(`SELECT r.id FROM releases r WHERE r.board = ? AND r.channel = ? AND r.sha256 IS NOT NULL AND r.sequence > ?`)
        .all(board, channel, target.sequence) as Array<{ id: number }>
      for (const { id } of above) {
        this.ensureRow.run(id)
        this.db.prepare(`UPDATE rollouts SET state = 'rolled_back', updated_at = ? WHERE release_id = ?`).run(at, id)
      }
      this.db
        .prepare(
          `INSERT INTO channel_rollbacks (board, channel, release_id, at) VALUES (?, ?, ?, ?)
           ON CONFLICT (board, channel) DO UPDATE SET release_id = excluded.release_id, at = excluded.at`
        )
        .run(board, channel, target.id, at)
      this.record(who, 'rollback', { board, channel, version }, { from: current.version, to: version, releases_rolled_back: above.length })
      return { version: target.version, sequence: target.sequence, at }
    })
  }

  async setPolicy(board: string, channel: string, change: Partial<Policy>, who: Actor): Promise<Policy> {
    return this.write(() => {
      const before = this.policySync(board, channel)
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
      const after = this.policySync(board, channel)
      this.record(who, 'policy', { board, channel }, { from: before, to: after })
      return after
    })
  }

  /** Pins devices to a release of their board with a binary; returns the pins. */
  async pinDevices(devices: string[], board: string, version: string, who: Actor): Promise<Pin[]> {
    return this.write(() => {
      const release = this.db.prepare('SELECT * FROM releases WHERE board = ? AND version = ?').get(board, version) as Release | undefined
      if (!release) throw new RolloutRefusal(404, 'release_not_found', `board ${board} has no release named ${version}: list them with \`ota-gate release list --board ${board}\``)
      if (release.sha256 === null) {
        throw new RolloutRefusal(409, 'rollout_conflict', `release ${version} is a historical release without a binary: pin devices to a release published through ota-gate`)
      }
      const at = Date.now()
      const upsert = this.db.prepare(`INSERT INTO device_pins (device, board, release_id, pinned_at, pinned_by, reason) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (device) DO UPDATE SET board = excluded.board, release_id = excluded.release_id, pinned_at = excluded.pinned_at,
          pinned_by = excluded.pinned_by, reason = excluded.reason`)
      for (const device of devices) upsert.run(device, board, release.id, at, who.actor, who.reason)
      this.record(who, 'pin', { board, channel: release.channel, version, device: devices.length === 1 ? devices[0] : null }, {
        devices,
      })
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

  async unpin(device: string, who: Actor): Promise<Pin> {
    return this.write(() => {
      const pin = this.db
        .prepare(
          `SELECT p.device, p.board, p.release_id, r.version, r.sequence, r.channel, p.pinned_at, p.pinned_by, p.reason
           FROM device_pins p JOIN releases r ON r.id = p.release_id WHERE p.device = ?`
        )
        .get(device) as (Pin & { channel: string }) | undefined
      if (!pin) throw new RolloutRefusal(404, 'pin_not_found', `device ${device} is not pinned, so there is nothing to unpin: \`ota-gate rollout pins\` lists the pinned devices`)
      this.db.prepare('DELETE FROM device_pins WHERE device = ?').run(device)
      this.record(who, 'unpin', { board: pin.board, channel: pin.channel, version: pin.version, device }, { was: pin.version })
      const { channel: _channel, ...rest } = pin
      return rest
    })
  }

  // ---- helpers ----

  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate()
    } finally {
      this.changed()
    }
  }

  private record(
    who: Actor,
    action: AuditEntry['action'],
    subject: { board: string; channel: string; version?: string; device?: string | null },
    details: Record<string, unknown>
  ): void {
    this.audit.recordSync({
      actor: who.actor,
      action,
      board: subject.board,
      channel: subject.channel,
      version: subject.version ?? null,
      device: subject.device ?? null,
      reason: who.reason,
      details,
    })
  }

  private async changeState(board: string, channel: string, who: Actor, action: 'pause' | 'resume', from: RolloutState[], to: RolloutState): Promise<Rollout> {
    return this.write(() => {
      const current = this.requireCurrent(board, channel)
      if (!from.includes(current.state)) {
        throw new RolloutRefusal(
          409,
          'rollout_conflict',
          `the rollout of ${current.version} on ${board}/${channel} is ${current.state}; ${action} needs it ${from.join(' or ')}`
        )
      }
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
      this.record(who, action, current, { from: current.state, to, percent: current.percent })
      return this.rolloutRow.get(current.release_id) as Rollout
    })
  }

  /** The current rollout, given a row to change (inside a write). */
  private requireCurrent(board: string, channel: string): Rollout {
    const current = this.currentSync(board, channel)
    if (!current) {
      throw new RolloutRefusal(404, 'no_release', `board ${board} has no release with a binary on channel ${channel}: publish one first`)
    }
    this.ensureRow.run(current.release_id)
    return current
  }

  private currentSync(board: string, channel: string): Rollout | undefined {
    const newest = this.db
      .prepare('SELECT * FROM releases WHERE board = ? AND channel = ? AND sha256 IS NOT NULL ORDER BY sequence DESC LIMIT 1')
      .get(board, channel) as Release | undefined
    if (!newest) return undefined
    return this.rolloutRow.get(newest.id) ?? implicitRollout(newest)
  }

  private policySync(board: string, channel: string): Policy {
    const row = this.db
      .prepare('SELECT default_percent, halt_min_count, halt_min_ratio FROM rollout_policies WHERE board = ? AND channel = ?')
      .get(board, channel) as { [K in keyof Policy]: number | null } | undefined
    return {
      default_percent: row?.default_percent ?? DEFAULT_POLICY.default_percent,
      halt_min_count: row?.halt_min_count ?? DEFAULT_POLICY.halt_min_count,
      halt_min_ratio: row?.halt_min_ratio ?? DEFAULT_POLICY.halt_min_ratio,
    }
  }
}

/** The rollout a release published before rollouts existed has: everyone, active. */
export function implicitRollout(r: Release): Rollout {
  return {
    release_id: r.id,
    board: r.board,
    channel: r.channel,
    version: r.version,
    sequence: r.sequence,
    percent: 100,
    state: 'active',
    started_at: r.created_at,
    updated_at: r.created_at,
    halted_at: null,
    halted_reason: null,
    halt_failed: null,
    halt_tried: null,
  }
}
