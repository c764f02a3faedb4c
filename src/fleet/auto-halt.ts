import type { Repositories } from '../repositories'
import type { Policy, Rollout, SetbackCounts } from '../repositories/rollouts'

/** hawkBit-style: both the count and the share of devices that tried must be reached. */
export function exceedsThreshold(counts: SetbackCounts, policy: Policy): boolean {
  return counts.tried > 0 && counts.failed >= policy.halt_min_count && counts.failed / counts.tried >= policy.halt_min_ratio
}

const percent = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`

/**
 * Halts the active rollouts of these releases whose failures and rollbacks passed their channel's
 * thresholds; returns the rollouts it halted. Runs only when a check-in or report recorded a
 * setback, never on an ordinary poll.
 */
export async function checkAutoHalt(repos: Repositories, releaseIds: number[]): Promise<Rollout[]> {
  const halted: Rollout[] = []
  for (const id of new Set(releaseIds)) {
    const rollout = await repos.rollouts.get(id)
    if (!rollout || rollout.state !== 'active') continue
    const policy = await repos.rollouts.policy(rollout.board, rollout.channel)
    const counts = await repos.rollouts.setbackCounts(id)
    if (!exceedsThreshold(counts, policy)) continue
    const reason =
      `${counts.failed} of ${counts.tried} devices that tried ${rollout.version} failed or rolled back (${percent(counts.failed / counts.tried)}): ` +
      `at or over the thresholds of ${policy.halt_min_count} devices and ${percent(policy.halt_min_ratio)}`
    if (await repos.rollouts.halt(id, counts, reason)) halted.push({ ...rollout, state: 'halted', halted_reason: reason })
  }
  return halted
}
