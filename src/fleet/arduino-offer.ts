import semver from 'semver'
import type { Repositories } from '../repositories'
import type { Release } from '../repositories/release-rows'
import type { Target } from './target'

/** What an Arduino HTTPUpdate device runs, as far as its headers and the releases table tell. */
export interface RunningSketch {
  /** x-ESP32-version if sent, else the version of the release with the sketch's MD5, else "unknown". */
  version: string
  /** The known release's sequence, else 0. */
  sequence: number
  /** The release of the board the device runs, when the server knows it (imported historical ones included). */
  known: Release | undefined
}

export async function identifySketch(
  repos: Repositories,
  board: string,
  target: Target | undefined,
  version: string | undefined,
  sketchMd5: string | undefined
): Promise<RunningSketch> {
  let known: Release | undefined
  if (version !== undefined) {
    known = await repos.releases.get(board, version)
  } else if (sketchMd5 !== undefined) {
    known = target?.release.md5 === sketchMd5 ? target.release : await repos.releases.getByMd5(board, sketchMd5)
  }
  return { version: version ?? known?.version ?? 'unknown', sequence: known?.sequence ?? 0, known }
}

export type ArduinoAnswer = 'on_target' | 'offer' | 'no_downgrade'

/**
 * Whether to send the target's binary. HTTPUpdate flashes whatever a 200 carries, so the server
 * alone prevents downgrades: by sequence when the running version is a known release, by semantic
 * version when both are semver, otherwise the target is offered. A rollback (allowDowngrade) lifts this.
 */
export function arduinoAnswer(target: Target, running: RunningSketch, sketchMd5: string | undefined): ArduinoAnswer {
  const release = target.release
  if (sketchMd5 === release.md5 || running.version === release.version) return 'on_target'
  if (target.allowDowngrade) return 'offer'
  if (running.known) return release.sequence > running.known.sequence ? 'offer' : 'no_downgrade'
  const runningSemver = semver.valid(running.version)
  const targetSemver = semver.valid(release.version)
  if (runningSemver && targetSemver) return semver.gt(targetSemver, runningSemver) ? 'offer' : 'no_downgrade'
  return 'offer'
}
