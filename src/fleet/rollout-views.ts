import type { Static } from '@sinclair/typebox'
import type { Repositories } from '../repositories'
import type { DeviceRow } from '../repositories/device-rows'
import { ChannelRolloutView, DeviceRolloutView, pinView, policyView, rollbackView, rolloutView } from '../schemas/rollout'
import { inRollout } from './rollout-membership'
import { chooseTarget } from './target'

/** The current rollout, rollback and policy of each board and channel, for the fleet view. */
export async function channelRollouts(
  repos: Repositories,
  pairs: Array<{ board: string; channel: string }>
): Promise<Array<Static<typeof ChannelRolloutView>>> {
  const views = []
  for (const { board, channel } of pairs) {
    const current = await repos.rolloutQueries.current(board, channel)
    const rollback = await repos.rolloutQueries.rollback(board, channel)
    views.push({
      board,
      channel,
      current: current ? rolloutView(current) : null,
      rollback: rollback ? rollbackView(rollback) : null,
      policy: policyView(await repos.rolloutQueries.policy(board, channel)),
    })
  }
  return views
}

export async function deviceRollout(repos: Repositories, d: DeviceRow): Promise<Static<typeof DeviceRolloutView>> {
  const pin = await repos.rolloutQueries.pin(d.device)
  const target = await chooseTarget(repos, { board: d.board, channel: d.channel, device: d.device, version: d.version, sequence: d.sequence })
  const newest = (await repos.rolloutPlans.plan(d.board, d.channel)).releases[0]
  return {
    pinned: pin ? pinView(pin) : null,
    target: target
      ? { version: target.release.version, sequence: target.release.sequence, allow_downgrade: target.allowDowngrade, basis: target.basis }
      : null,
    in_rollout: newest?.release.sha256 != null && inRollout(newest.release.sha256, d.device, newest.percent),
  }
}
