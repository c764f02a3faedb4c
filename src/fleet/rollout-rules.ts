import type { Release } from '../repositories/releases'
import type { Pin, Rollout, RolloutChecks, RolloutState } from '../repositories/rollout-rows'

export type RolloutRefusalCode = 'no_release' | 'release_not_found' | 'rollout_conflict' | 'pin_not_found'

/** A rollout change that the current state does not allow; the error handler gives it its HTTP status. */
export class RolloutRefusal extends Error {
  constructor(
    readonly code: RolloutRefusalCode,
    message: string
  ) {
    super(message)
    this.name = 'RolloutRefusal'
  }
}

/** The states an operator's pause or resume starts from, and the one it goes to. */
export const STATE_CHANGES: Record<'pause' | 'resume', { from: RolloutState[]; to: RolloutState }> = {
  pause: { from: ['active'], to: 'paused' },
  resume: { from: ['paused', 'halted'], to: 'active' },
}

function releaseNotFound(board: string, version: string): RolloutRefusal {
  return new RolloutRefusal('release_not_found', `board ${board} has no release named ${version}`)
}

/** The rollout state machine: what each change needs of the rows it changes. */
export const rolloutChecks: RolloutChecks = {
  current(board: string, channel: string, current: Rollout | undefined): Rollout {
    if (!current) throw new RolloutRefusal('no_release', `board ${board} has no release with a binary on channel ${channel}: publish one first`)
    return current
  },

  percent(current: Rollout): void {
    if (current.state === 'rolled_back') {
      throw new RolloutRefusal('rollout_conflict', `release ${current.version} was rolled back: publish a new release to move forward`)
    }
  },

  state(current: Rollout, action: 'pause' | 'resume'): RolloutState {
    const { from, to } = STATE_CHANGES[action]
    if (!from.includes(current.state)) {
      throw new RolloutRefusal(
        'rollout_conflict',
        `the rollout of ${current.version} on ${current.board}/${current.channel} is ${current.state}; ${action} needs it ${from.join(' or ')}`
      )
    }
    return to
  },

  rollbackTarget(current: Rollout, version: string, target: Release | undefined): Release {
    if (!target) throw releaseNotFound(current.board, version)
    if (target.sha256 === null) {
      throw new RolloutRefusal('rollout_conflict', `release ${version} is a historical release without a binary: roll back to a release published through ota-gate`)
    }
    if (target.sequence >= current.sequence) {
      throw new RolloutRefusal(
        'rollout_conflict',
        `release ${version} (sequence ${target.sequence}) is not earlier than ${current.version} (sequence ${current.sequence}), the newest on ${current.board}/${current.channel}: name an earlier release`
      )
    }
    return target
  },

  pinTarget(board: string, version: string, release: Release | undefined): Release {
    if (!release) throw releaseNotFound(board, version)
    if (release.sha256 === null) {
      throw new RolloutRefusal('rollout_conflict', `release ${version} is a historical release without a binary: pin devices to a release published through ota-gate`)
    }
    return release
  },

  unpin(device: string, pin: Pin | undefined): Pin {
    if (!pin) throw new RolloutRefusal('pin_not_found', `device ${device} is not pinned, so there is nothing to unpin`)
    return pin
  },
}
