import type { Database, Statement } from 'better-sqlite3'
import type { Release } from './releases'
import { PIN_SELECT, ROLLOUT_SELECT, policyOf, type ChannelRollback, type Pin, type Policy, type Rollout, type SetbackCounts } from './rollout-rows'

/** What operators and the auto-halt read about rollouts, uncached. */
export class RolloutQueriesRepository {
  private readonly rolloutRow: Statement<[number], Rollout>
  private readonly failed: Statement<[number], { n: number }>
  private readonly failedVerified: Statement<[number], { n: number }>

  constructor(private readonly db: Database) {
    this.rolloutRow = db.prepare(`${ROLLOUT_SELECT} WHERE ro.release_id = ?`)
    // The WHERE repeats the partial index device_releases_setbacks, so that SQLite uses it.
    this.failed = db.prepare(
      'SELECT count(*) AS n FROM device_releases WHERE release_id = ? AND (failed_at IS NOT NULL OR rolled_back_at IS NOT NULL)'
    )
    this.failedVerified = db.prepare(
      `SELECT count(*) AS n FROM device_releases dr JOIN devices d ON d.device = dr.device
       WHERE dr.release_id = ? AND (dr.failed_at IS NOT NULL OR dr.rolled_back_at IS NOT NULL) AND d.verified = 1`
    )
  }

  /** The rollout of a release with a binary. */
  async get(releaseId: number): Promise<Rollout | undefined> {
    return this.rolloutRow.get(releaseId)
  }

  /** Rollouts of the releases of a board (and channel), by release id. */
  async byRelease(filter: { board?: string; channel?: string }): Promise<Map<number, Rollout>> {
    const rows = this.db
      .prepare(`${ROLLOUT_SELECT} WHERE (@board IS NULL OR ro.board = @board) AND (@channel IS NULL OR ro.channel = @channel)`)
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
    return currentRollout(this.db, board, channel)
  }

  async policy(board: string, channel: string): Promise<Policy> {
    return policyRow(this.db, board, channel)
  }

  async rollback(board: string, channel: string): Promise<ChannelRollback | undefined> {
    const rb = channelRollback(this.db, board, channel)
    return rb ? { version: rb.version, sequence: rb.sequence, at: rb.rollback_at } : undefined
  }

  async pinsList(filter: { board?: string }): Promise<Pin[]> {
    return this.db.prepare(`${PIN_SELECT} WHERE (@board IS NULL OR p.board = @board) ORDER BY p.device`).all({ board: filter.board ?? null }) as Pin[]
  }

  async pin(device: string): Promise<Pin | undefined> {
    return this.db.prepare(`${PIN_SELECT} WHERE p.device = ?`).get(device) as Pin | undefined
  }

  /** Devices that failed or rolled back the release (through the small index of such rows): only verified devices when `onlyVerified`. */
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
}

// Reads the writes make too, inside their transactions.

export function currentRollout(db: Database, board: string, channel: string): Rollout | undefined {
  return db
    .prepare(
      `${ROLLOUT_SELECT} WHERE r.id = (SELECT id FROM releases WHERE board = ? AND channel = ? AND sha256 IS NOT NULL ORDER BY sequence DESC LIMIT 1)`
    )
    .get(board, channel) as Rollout | undefined
}

export function policyRow(db: Database, board: string, channel: string): Policy {
  return policyOf(
    db
      .prepare('SELECT default_percent, halt_min_count, halt_min_ratio FROM rollout_policies WHERE board = ? AND channel = ?')
      .get(board, channel) as { [K in keyof Policy]: number | null } | undefined
  )
}

export function channelRollback(db: Database, board: string, channel: string): (Release & { rollback_at: number }) | undefined {
  return db
    .prepare(`SELECT r.*, cr.at AS rollback_at FROM channel_rollbacks cr JOIN releases r ON r.id = cr.release_id WHERE cr.board = ? AND cr.channel = ?`)
    .get(board, channel) as (Release & { rollback_at: number }) | undefined
}
