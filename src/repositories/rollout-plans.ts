import type { Database, Statement } from 'better-sqlite3'
import type { Release } from './releases'
import type { ChannelPlan, RolloutState } from './rollout-rows'

/**
 * How often a server re-reads the generation counter that triggers move on every rollout change:
 * changes made by this process are seen at once, those of another process within this time.
 */
const GENERATION_TTL_MS = 1000

/** Board/channel entries kept: polls may name any well-formed board or channel, known or not. */
const MAX_CACHED = 1024

type RolloutJoin = Release & { percent: number; state: RolloutState }

/**
 * The rollout state the device endpoints read: channel plans and pins, cached and keyed by the
 * DB's generation counter, so a poll costs no query while nothing changes.
 */
export class RolloutPlansRepository {
  private readonly generation: Statement<[], { n: number }>
  private readonly channelReleases: Statement<[string, string], RolloutJoin>
  private readonly rollbackOf: Statement<[string, string], Release>
  private readonly pinsOf: Statement<[string], Release & { device: string }>
  private readonly plans = new Map<string, ChannelPlan>()
  private readonly pins = new Map<string, Map<string, Release>>()
  private generationSeen = -1
  private checkedAt = 0

  constructor(db: Database) {
    this.generation = db.prepare('SELECT n FROM rollout_generation WHERE id = 1')
    // Every release with a binary has its rollout row, written with it.
    this.channelReleases = db.prepare(`SELECT r.*, ro.percent, ro.state FROM releases r JOIN rollouts ro ON ro.release_id = r.id
      WHERE r.board = ? AND r.channel = ? AND r.sha256 IS NOT NULL ORDER BY r.sequence DESC`)
    this.rollbackOf = db.prepare(`SELECT r.* FROM channel_rollbacks cr JOIN releases r ON r.id = cr.release_id
      WHERE cr.board = ? AND cr.channel = ?`)
    this.pinsOf = db.prepare('SELECT r.*, p.device FROM device_pins p JOIN releases r ON r.id = p.release_id WHERE p.board = ?')
  }

  /** The releases of a board and channel with their rollouts, and the channel's rollback, if any. */
  async plan(board: string, channel: string): Promise<ChannelPlan> {
    this.refresh()
    const key = `${board}|${channel}`
    let plan = this.plans.get(key)
    if (!plan) {
      const releases = this.channelReleases.all(board, channel).map(({ percent, state, ...release }) => ({ release, percent, state }))
      plan = { releases, rollback: this.rollbackOf.get(board, channel) ?? null, newest: releases[0]?.release ?? null }
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
      byDevice = new Map(this.pinsOf.all(board).map(({ device: d, ...release }) => [d, release]))
      if (this.pins.size >= MAX_CACHED) this.pins.clear()
      this.pins.set(board, byDevice)
    }
    return byDevice.get(device)
  }

  /** After a change: the next read re-reads the generation, which the change's triggers moved. */
  changed(): void {
    this.checkedAt = 0
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
}
