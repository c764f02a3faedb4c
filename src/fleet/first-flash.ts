import type { Repositories } from '../repositories'
import type { FactoryImage } from '../repositories/factory-images'
import { chooseTarget, isServable, type ServableRelease } from './target'

/** The factory image a first flash gets, and the release it belongs to. */
export interface FirstFlash {
  release: ServableRelease
  factory: FactoryImage
}

/**
 * The factory image to offer beside `offered` (the release the channel's clients without an id are
 * offered): its own, or else that of the newest earlier release of the channel that has one and was
 * not rolled back. A new module is thus never first-flashed with a build newer than the fleet's, nor
 * with one an operator took back.
 */
export async function factoryBeside(repos: Repositories, offered: ServableRelease): Promise<FirstFlash | undefined> {
  const candidates = await repos.factoryImages.upTo(offered.board, offered.channel, offered.sequence)
  if (candidates.length === 0) return undefined
  const plan = await repos.rolloutPlans.plan(offered.board, offered.channel)
  const staged = new Map(plan.releases.map((s) => [s.release.id, s]))
  for (const factory of candidates) {
    const s = staged.get(factory.release_id)
    if (!s || !isServable(s.release)) continue
    if (s.release.id === offered.id || s.state !== 'rolled_back') return { release: s.release, factory }
  }
  return undefined
}

/** What a browser installer of this board and channel flashes (no device id: releases rolled out to everyone). */
export async function firstFlashOf(repos: Repositories, board: string, channel: string, maxSize?: number): Promise<FirstFlash | undefined> {
  const target = await chooseTarget(repos, { board, channel, maxSize })
  return target ? factoryBeside(repos, target.release) : undefined
}
