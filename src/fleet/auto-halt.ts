import type { Repositories } from '../repositories'
import type { Policy, Rollout, SetbackCounts } from '../repositories/rollout-rows'

/** hawkBit-style: both the count and the share of devices that tried must be reached. */
export function exceedsThreshold(counts: SetbackCounts, policy: Policy): boolean {
  return counts.tried > 0 && counts.failed >= policy.halt_min_count && counts.failed / counts.tried >= policy.halt_min_ratio
}

/**
 * How long a count of the devices that tried a release is reused. Counting them reads every device
 * the release was offered to; the count only grows, so an older one can only overstate the share
 * of failures, and a halt is always confirmed with fresh counts first.
 */
const TRIED_TTL_MS = 5000

const percent = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`

/**
 * Halts the active rollouts of releases whose failures and rollbacks pass their channel's
 * thresholds. Asked only when a check-in or report recorded a setback, never on an ordinary poll;
 * the failures are counted through a small partial index, the devices that tried at most every
 * few seconds per release (and once more before halting).
 */
export class AutoHalt {
  private readonly tried = new Map<number, { n: number; at: number }>()

  constructor(
    private readonly repos: Repositories,
    /** Count only devices that proved who they are (device credentials optional or required). */
    private readonly onlyVerified: boolean,
    private readonly now: () => number = Date.now
  ) {}

  /** Returns the rollouts it halted. */
  async check(releaseIds: number[]): Promise<Rollout[]> {
    const halted: Rollout[] = []
    for (const id of new Set(releaseIds)) {
      const rollout = await this.repos.rolloutQueries.get(id)
      if (!rollout || rollout.state !== 'active') continue
      const policy = await this.repos.rolloutQueries.policy(rollout.board, rollout.channel)
      const failed = await this.repos.rolloutQueries.failedCount(id, this.onlyVerified)
      if (failed < policy.halt_min_count) continue
      if (!exceedsThreshold({ failed, tried: await this.triedCount(id) }, policy)) continue
      const counts = await this.repos.rolloutQueries.setbackCounts(id, this.onlyVerified)
      this.tried.set(id, { n: counts.tried, at: this.now() })
      if (!exceedsThreshold(counts, policy)) continue
      const reason =
        `${counts.failed} of ${counts.tried} devices that tried ${rollout.version} failed or rolled back (${percent(counts.failed / counts.tried)}): ` +
        `at or over the thresholds of ${policy.halt_min_count} devices and ${percent(policy.halt_min_ratio)}`
      if (await this.repos.rollouts.halt(id, counts, reason)) halted.push({ ...rollout, state: 'halted', halted_reason: reason })
    }
    return halted
  }

  private async triedCount(id: number): Promise<number> {
    const cached = this.tried.get(id)
    if (cached && this.now() - cached.at < TRIED_TTL_MS) return cached.n
    const n = (await this.repos.rolloutQueries.setbackCounts(id, this.onlyVerified)).tried
    this.tried.set(id, { n, at: this.now() })
    return n
  }
}
