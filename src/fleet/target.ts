import type { Repositories } from '../repositories'
import type { Release } from '../repositories/releases'

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

export interface Target {
  release: ServableRelease
  /** true only while an operator has rolled the channel back: the client may then go to a lower sequence. */
  allowDowngrade: boolean
  /** Newer releases not offered because they exceed `maxSize`, newest first. */
  passedOver: ServableRelease[]
}

/**
 * The release a client of this board and channel should run. Every device-facing endpoint asks
 * here, so that staged rollouts change only this module. Today: the newest release of the channel.
 */
export async function chooseTarget(repos: Repositories, query: TargetQuery): Promise<Target | undefined> {
  const latest = await repos.releases.latest(query.board, query.channel)
  if (!latest || !isServable(latest)) return undefined
  if (query.maxSize === undefined || latest.size <= query.maxSize) {
    return { release: latest, allowDowngrade: false, passedOver: [] }
  }
  // Rare path (a release too big for some clients): walk down the channel's releases.
  const passedOver: ServableRelease[] = []
  for (const release of await repos.releases.list({ board: query.board, channel: query.channel })) {
    if (!isServable(release)) continue
    if (release.size <= query.maxSize) return { release, allowDowngrade: false, passedOver }
    passedOver.push(release)
  }
  return undefined
}
