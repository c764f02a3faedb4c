import type pg from 'pg'
import { all, one, transaction, type Queryable } from '../../db/postgres'
import type { Release } from '../releases'
import type { RolloutPlansRepository } from '../rollout-plans'
import type { RolloutQueriesRepository } from '../rollout-queries'
import {
  PIN_SELECT,
  ROLLOUT_SELECT,
  policyOf,
  rolloutAudit,
  type Actor,
  type ChannelPlan,
  type ChannelRollback,
  type Pin,
  type Policy,
  type Rollout,
  type RolloutChecks,
  type RolloutStart,
  type RolloutState,
  type SetbackCounts,
} from '../rollout-rows'
import type { RolloutsRepository } from '../rollouts'
import type { Shape } from '../shape'
import { pgRecordAudit } from './audit'

const GENERATION_TTL_MS = 1000
const MAX_CACHED = 1024

async function record(q: Queryable, ...entry: Parameters<typeof rolloutAudit>): Promise<void> {
  await pgRecordAudit(q, rolloutAudit(...entry))
}

async function currentRollout(q: Queryable, board: string, channel: string): Promise<Rollout | undefined> {
  return one(
    q,
    `${ROLLOUT_SELECT} WHERE r.id = (SELECT id FROM releases WHERE board = $1 AND channel = $2 AND sha256 IS NOT NULL ORDER BY sequence DESC LIMIT 1)`,
    [board, channel]
  )
}

async function policyRow(q: Queryable, board: string, channel: string): Promise<Policy> {
  return policyOf(
    await one(q, 'SELECT default_percent, halt_min_count, halt_min_ratio FROM rollout_policies WHERE board = $1 AND channel = $2', [board, channel])
  )
}

async function channelRollback(q: Queryable, board: string, channel: string): Promise<(Release & { rollback_at: number }) | undefined> {
  return one(q, `SELECT r.*, cr.at AS rollback_at FROM channel_rollbacks cr JOIN releases r ON r.id = cr.release_id WHERE cr.board = $1 AND cr.channel = $2`, [
    board,
    channel,
  ])
}

async function rolloutOf(q: Queryable, releaseId: number): Promise<Rollout> {
  return (await one<Rollout>(q, `${ROLLOUT_SELECT} WHERE ro.release_id = $1`, [releaseId])) as Rollout
}

/** As startRollout (SQLite), on the transaction `q` that records the release. */
export async function pgStartRollout(q: Queryable, release: Release, start: RolloutStart): Promise<void> {
  const percent = start.percent ?? (await policyRow(q, release.board, release.channel)).default_percent
  const at = Date.now()
  await q.query(
    `INSERT INTO rollouts (release_id, board, channel, percent, state, started_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5)
     ON CONFLICT (release_id) DO UPDATE SET percent = excluded.percent, state = 'active', updated_at = excluded.updated_at`,
    [release.id, release.board, release.channel, percent, at]
  )
  await record(q, start.who, 'start', release, { percent, source: start.percent === undefined ? 'policy' : 'publish' })
  const rb = await channelRollback(q, release.board, release.channel)
  if (rb) {
    await q.query('DELETE FROM channel_rollbacks WHERE board = $1 AND channel = $2', [release.board, release.channel])
    await record(q, { actor: start.who.actor, reason: `release ${release.version} published` }, 'clear_rollback', release, { was: rb.version })
  }
}

/** Rollout changes take this lock: one at a time per board and channel, as SQLite's IMMEDIATE transactions are. */
async function lockChannel(q: Queryable, board: string, channel: string): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ota-gate rollout ${board}/${channel}`])
}

export class PgRolloutsRepository implements Shape<RolloutsRepository> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly plans: PgRolloutPlansRepository
  ) {}

  async setPercent(board: string, channel: string, percent: number, who: Actor, checks: RolloutChecks): Promise<Rollout> {
    return this.write(board, channel, async (q) => {
      const current = checks.current(board, channel, await currentRollout(q, board, channel))
      checks.percent(current)
      await q.query('UPDATE rollouts SET percent = $1, updated_at = $2 WHERE release_id = $3', [percent, Date.now(), current.release_id])
      await record(q, who, 'set_percent', current, { from: current.percent, to: percent, state: current.state })
      return rolloutOf(q, current.release_id)
    })
  }

  async changeState(board: string, channel: string, action: 'pause' | 'resume', who: Actor, checks: RolloutChecks): Promise<Rollout> {
    return this.write(board, channel, async (q) => {
      const current = checks.current(board, channel, await currentRollout(q, board, channel))
      const to: RolloutState = checks.state(current, action)
      await q.query(
        `UPDATE rollouts SET state = $1, updated_at = $2,
           halted_at = CASE WHEN $1 = 'active' THEN NULL ELSE halted_at END,
           halted_reason = CASE WHEN $1 = 'active' THEN NULL ELSE halted_reason END,
           halt_failed = CASE WHEN $1 = 'active' THEN NULL ELSE halt_failed END,
           halt_tried = CASE WHEN $1 = 'active' THEN NULL ELSE halt_tried END
         WHERE release_id = $3`,
        [to, Date.now(), current.release_id]
      )
      await record(q, who, action, current, { from: current.state, to, percent: current.percent })
      return rolloutOf(q, current.release_id)
    })
  }

  async halt(releaseId: number, counts: SetbackCounts, reason: string): Promise<boolean> {
    try {
      return await transaction(this.pool, async (q) => {
        const at = Date.now()
        const changed = await q.query(
          `UPDATE rollouts SET state = 'halted', halted_at = $1, halted_reason = $2, halt_failed = $3, halt_tried = $4, updated_at = $1
           WHERE release_id = $5 AND state = 'active'`,
          [at, reason, counts.failed, counts.tried, releaseId]
        )
        if (changed.rowCount === 0) return false
        const rollout = await rolloutOf(q, releaseId)
        await record(q, { actor: 'system', reason }, 'halt', rollout, { failed: counts.failed, tried: counts.tried, percent: rollout.percent })
        return true
      })
    } finally {
      this.plans.changed()
    }
  }

  async rollbackTo(board: string, channel: string, version: string, who: Actor, checks: RolloutChecks): Promise<ChannelRollback> {
    return this.write(board, channel, async (q) => {
      const current = checks.current(board, channel, await currentRollout(q, board, channel))
      const found = await one<Release>(q, 'SELECT * FROM releases WHERE board = $1 AND version = $2', [board, version])
      const target = checks.rollbackTarget(current, version, found)
      const at = Date.now()
      const above = await q.query(
        `UPDATE rollouts SET state = 'rolled_back', updated_at = $1 WHERE release_id IN
           (SELECT r.id FROM releases r WHERE r.board = $2 AND r.channel = $3 AND r.sha256 IS NOT NULL AND r.sequence > $4)`,
        [at, board, channel, target.sequence]
      )
      await q.query(
        `INSERT INTO channel_rollbacks (board, channel, release_id, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (board, channel) DO UPDATE SET release_id = excluded.release_id, at = excluded.at`,
        [board, channel, target.id, at]
      )
      await record(q, who, 'rollback', { board, channel, version }, { from: current.version, to: version, releases_rolled_back: above.rowCount ?? 0 })
      return { version: target.version, sequence: target.sequence, at }
    })
  }

  async setPolicy(board: string, channel: string, change: Partial<Policy>, who: Actor): Promise<Policy> {
    return this.write(board, channel, async (q) => {
      const before = await policyRow(q, board, channel)
      await q.query(
        `INSERT INTO rollout_policies AS p (board, channel, default_percent, halt_min_count, halt_min_ratio, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (board, channel) DO UPDATE SET
           default_percent = COALESCE(excluded.default_percent, p.default_percent),
           halt_min_count = COALESCE(excluded.halt_min_count, p.halt_min_count),
           halt_min_ratio = COALESCE(excluded.halt_min_ratio, p.halt_min_ratio),
           updated_at = excluded.updated_at`,
        [board, channel, change.default_percent ?? null, change.halt_min_count ?? null, change.halt_min_ratio ?? null, Date.now()]
      )
      const after = await policyRow(q, board, channel)
      await record(q, who, 'policy', { board, channel }, { from: before, to: after })
      return after
    })
  }

  async pinDevices(devices: string[], board: string, version: string, who: Actor, checks: RolloutChecks): Promise<Pin[]> {
    return this.write(board, '', async (q) => {
      const found = await one<Release>(q, 'SELECT * FROM releases WHERE board = $1 AND version = $2', [board, version])
      const release = checks.pinTarget(board, version, found)
      const at = Date.now()
      await q.query(
        `INSERT INTO device_pins (device, board, release_id, pinned_at, pinned_by, reason)
         SELECT d, $2, $3, $4, $5, $6 FROM unnest($1::text[]) AS d
         ON CONFLICT (device) DO UPDATE SET board = excluded.board, release_id = excluded.release_id, pinned_at = excluded.pinned_at,
           pinned_by = excluded.pinned_by, reason = excluded.reason`,
        [devices, board, release.id, at, who.actor, who.reason]
      )
      await record(q, who, 'pin', { board, channel: release.channel, version, device: devices.length === 1 ? devices[0] : null }, { devices })
      return devices.map((device) => ({ device, board, release_id: release.id, version, sequence: release.sequence, pinned_at: at, pinned_by: who.actor, reason: who.reason }))
    })
  }

  async unpin(device: string, who: Actor, checks: RolloutChecks): Promise<Pin> {
    return this.write('', device, async (q) => {
      const pin = checks.unpin(device, await one<Pin>(q, `${PIN_SELECT} WHERE p.device = $1 FOR UPDATE OF p`, [device]))
      const { channel } = (await one<{ channel: string }>(q, 'SELECT channel FROM releases WHERE id = $1', [pin.release_id])) as { channel: string }
      await q.query('DELETE FROM device_pins WHERE device = $1', [device])
      await record(q, who, 'unpin', { board: pin.board, channel, version: pin.version, device }, { was: pin.version })
      return pin
    })
  }

  private async write<T>(board: string, channel: string, fn: (q: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await transaction(this.pool, async (q) => {
        await lockChannel(q, board, channel)
        return fn(q)
      })
    } finally {
      this.plans.changed()
    }
  }
}

type RolloutJoin = Release & { percent: number; state: RolloutState }

/** As RolloutPlansRepository: cached plans and pins, dropped when the generation moves. */
export class PgRolloutPlansRepository implements Shape<RolloutPlansRepository> {
  private readonly plans = new Map<string, Promise<ChannelPlan>>()
  private readonly pins = new Map<string, Promise<Map<string, Release>>>()
  private generationSeen = -1
  private checkedAt = 0
  private checking: Promise<void> | undefined

  constructor(private readonly pool: pg.Pool) {}

  async plan(board: string, channel: string): Promise<ChannelPlan> {
    await this.refresh()
    const key = `${board}|${channel}`
    let plan = this.plans.get(key)
    if (!plan) {
      plan = this.loadPlan(board, channel)
      if (this.plans.size >= MAX_CACHED) this.plans.clear()
      this.plans.set(key, plan)
      plan.catch(() => this.plans.delete(key))
    }
    return plan
  }

  async pinned(board: string, device: string): Promise<Release | undefined> {
    await this.refresh()
    let byDevice = this.pins.get(board)
    if (!byDevice) {
      byDevice = all<Release & { device: string }>(
        this.pool,
        'SELECT r.*, p.device FROM device_pins p JOIN releases r ON r.id = p.release_id WHERE p.board = $1',
        [board]
      ).then((rows) => new Map(rows.map(({ device: d, ...release }) => [d, release])))
      if (this.pins.size >= MAX_CACHED) this.pins.clear()
      this.pins.set(board, byDevice)
      byDevice.catch(() => this.pins.delete(board))
    }
    return (await byDevice).get(device)
  }

  changed(): void {
    this.checkedAt = 0
  }

  private async loadPlan(board: string, channel: string): Promise<ChannelPlan> {
    const rows = await all<RolloutJoin>(
      this.pool,
      `SELECT r.*, ro.percent, ro.state FROM releases r JOIN rollouts ro ON ro.release_id = r.id
       WHERE r.board = $1 AND r.channel = $2 AND r.sha256 IS NOT NULL ORDER BY r.sequence DESC`,
      [board, channel]
    )
    const releases = rows.map(({ percent, state, ...release }) => ({ release, percent, state }))
    const rollback = await one<Release>(
      this.pool,
      'SELECT r.* FROM channel_rollbacks cr JOIN releases r ON r.id = cr.release_id WHERE cr.board = $1 AND cr.channel = $2',
      [board, channel]
    )
    return { releases, rollback: rollback ?? null, newest: releases[0]?.release ?? null }
  }

  private async refresh(): Promise<void> {
    const now = Date.now()
    if (now - this.checkedAt < GENERATION_TTL_MS) return
    // Polls arriving together share one read of the generation.
    this.checking ??= (async () => {
      try {
        const row = (await one<{ n: number }>(this.pool, 'SELECT n FROM rollout_generation WHERE id = 1')) as { n: number }
        this.checkedAt = now
        if (row.n !== this.generationSeen) {
          this.generationSeen = row.n
          this.plans.clear()
          this.pins.clear()
        }
      } finally {
        this.checking = undefined
      }
    })()
    await this.checking
  }
}

export class PgRolloutQueriesRepository implements Shape<RolloutQueriesRepository> {
  constructor(private readonly pool: pg.Pool) {}

  async get(releaseId: number): Promise<Rollout | undefined> {
    return one(this.pool, `${ROLLOUT_SELECT} WHERE ro.release_id = $1`, [releaseId])
  }

  async byRelease(filter: { board?: string; channel?: string }): Promise<Map<number, Rollout>> {
    const rows = await all<Rollout>(
      this.pool,
      `${ROLLOUT_SELECT} WHERE ($1::text IS NULL OR ro.board = $1) AND ($2::text IS NULL OR ro.channel = $2)`,
      [filter.board ?? null, filter.channel ?? null]
    )
    return new Map(rows.map((r) => [r.release_id, r]))
  }

  async channels(board: string): Promise<string[]> {
    return (await all<{ channel: string }>(this.pool, 'SELECT DISTINCT channel FROM releases WHERE board = $1 ORDER BY channel', [board])).map((r) => r.channel)
  }

  async current(board: string, channel: string): Promise<Rollout | undefined> {
    return currentRollout(this.pool, board, channel)
  }

  async policy(board: string, channel: string): Promise<Policy> {
    return policyRow(this.pool, board, channel)
  }

  async rollback(board: string, channel: string): Promise<ChannelRollback | undefined> {
    const rb = await channelRollback(this.pool, board, channel)
    return rb ? { version: rb.version, sequence: rb.sequence, at: rb.rollback_at } : undefined
  }

  async pinsList(filter: { board?: string }): Promise<Pin[]> {
    return all(this.pool, `${PIN_SELECT} WHERE ($1::text IS NULL OR p.board = $1) ORDER BY p.device`, [filter.board ?? null])
  }

  async pin(device: string): Promise<Pin | undefined> {
    return one(this.pool, `${PIN_SELECT} WHERE p.device = $1`, [device])
  }

  async failedCount(releaseId: number, onlyVerified: boolean): Promise<number> {
    const row = await one<{ n: number }>(
      this.pool,
      `SELECT count(*) AS n FROM device_releases dr ${onlyVerified ? 'JOIN devices d ON d.device = dr.device AND d.verified = 1' : ''}
       WHERE dr.release_id = $1 AND (dr.failed_at IS NOT NULL OR dr.rolled_back_at IS NOT NULL)`,
      [releaseId]
    )
    return (row as { n: number }).n
  }

  async setbackCounts(releaseId: number, onlyVerified: boolean): Promise<SetbackCounts> {
    return (await one<SetbackCounts>(
      this.pool,
      `SELECT count(*) FILTER (WHERE failed_at IS NOT NULL OR rolled_back_at IS NOT NULL) AS failed,
         count(*) FILTER (WHERE downloading_at IS NOT NULL OR downloaded_at IS NOT NULL OR installed_at IS NOT NULL OR booted_at IS NOT NULL
           OR failed_at IS NOT NULL OR rolled_back_at IS NOT NULL) AS tried
       FROM device_releases dr ${onlyVerified ? 'JOIN devices d ON d.device = dr.device AND d.verified = 1' : ''} WHERE release_id = $1`,
      [releaseId]
    )) as SetbackCounts
  }
}
