import type { Repositories } from '../repositories'
import type { Release } from '../repositories/releases'
import type { StagedRelease } from '../repositories/rollout-rows'
import { inRollout } from './rollout-membership'

/** A release with a binary to serve (imported historical releases have none). */
export type ServableRelease = Release & { sha256: string; size: number; md5: string }

export function isServable(release: Release): release is ServableRelease {
  return release.sha256 !== null && release.size !== null && release.md5 !== null
}

export interface TargetQuery {
  board: string
  channel: string
  /** 12 lowercase hex, when the client names itself (the field fleet does not). */
  device?: string
  version?: string
  sequence?: number
  /**
   * The largest image the client can take. Newer releases above it are passed over (and reported
   * in `passedOver`) in favour of the newest one that fits.
   */
  maxSize?: number
}

/** Why a client gets its target: its pin, its channel's rollback, or the rollouts of the channel's releases. */
export type TargetBasis = 'pinned' | 'rollback' | 'rollout'

export interface Target {
  release: ServableRelease
  /**
   * true while an operator has rolled the channel back, or pinned the device below the channel's
   * newest release: the client may then go to a lower sequence.
   */
  allowDowngrade: boolean
  /** Newer releases not offered because they exceed `maxSize`, newest first. */
  passedOver: ServableRelease[]
  basis: TargetBasis
}

/**
 * Whether a release's rollout reaches this client. A device is in when its bucket falls under the
 * percentage while the rollout is active, or when it already runs the release (a pause or halt
 * keeps those where they are). Clients without an id (the field fleet) get only releases rolled
 * out to everyone and still active.
 */
function reaches(staged: StagedRelease, query: TargetQuery): boolean {
  if (staged.state === 'rolled_back') return false
  if (query.device === undefined) return staged.state === 'active' && staged.percent >= 100
  if (query.version === staged.release.version) return true
  return staged.state === 'active' && staged.release.sha256 !== null && inRollout(staged.release.sha256, query.device, staged.percent)
}

/** The first candidate (best first) within `maxSize`, with the ones passed over for size. */
function firstThatFits(candidates: Release[], query: TargetQuery, allowDowngrade: (r: ServableRelease) => boolean, basis: TargetBasis): Target | undefined {
  const passedOver: ServableRelease[] = []
  for (const release of candidates) {
    if (!isServable(release)) continue
    if (query.maxSize === undefined || release.size <= query.maxSize) {
      return { release, allowDowngrade: allowDowngrade(release), passedOver, basis }
    }
    passedOver.push(release)
  }
  return undefined
}

/**
 * The release a client of this board and channel should run. Every device-facing endpoint asks
 * here, so that this is the one place the target is chosen: a device's pin first, then the
 * channel's rollback, then the newest release whose rollout reaches the client (devices outside a
 * rollout keep the release before it). State comes from the rollouts repository's cache: no query
 * per poll while nothing changes.
 */
export async function chooseTarget(repos: Repositories, query: TargetQuery): Promise<Target | undefined> {
  const plan = await repos.rolloutPlans.plan(query.board, query.channel)
  if (query.device !== undefined) {
    const pinned = await repos.rolloutPlans.pinned(query.board, query.device)
    if (pinned) {
      const newest = plan.newest?.sequence ?? 0
      return firstThatFits([pinned], query, (r) => r.sequence < newest, 'pinned')
    }
  }
  if (plan.rollback) return firstThatFits([plan.rollback], query, () => true, 'rollback')
  const reached = plan.releases.filter((staged) => reaches(staged, query)).map((staged) => staged.release)
  return firstThatFits(reached, query, () => false, 'rollout')
}
