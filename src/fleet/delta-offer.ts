import type { Repositories } from '../repositories'
import type { ServableRelease } from './target'

/** The only patch format devices can ask for today (Espressif's esp_delta_ota component). */
export const DELTA_FORMAT = 'esp_delta_ota'

/** What the manifest's `delta` object says. */
export interface DeltaOffer {
  format: typeof DELTA_FORMAT
  base_sha256: string
  url: string
  size: number
  sha256: string
}

export interface DeltaQuery {
  board: string
  /** 12 lowercase hex, when the device names itself */
  device?: string
  /** the SHA-256 of the image the device runs */
  running: string
  target: ServableRelease
}

/** Queues a patch build that nobody has asked for before. */
export interface DeltaBuildRequests {
  request(job: { board: string; base: string; target: string }): Promise<void>
}

/** The patch URL path for a base and a target (both whole-file SHA-256s). */
export function deltaPath(base: string, target: string): string {
  return `/v1/delta/${base}/${target}.patch`
}

/**
 * The delta a device running `running` gets with its target, if any: only a built, working patch
 * from a release of its board, under half the full image, on a board with deltas on, and never to
 * a device that reported failing to apply it. A base with no patch yet is queued for building
 * (when it is a release of the board) and the device gets the full image this time.
 */
export async function chooseDelta(
  repos: Repositories,
  builds: DeltaBuildRequests,
  q: DeltaQuery,
  urlBase: string
): Promise<DeltaOffer | undefined> {
  const target = q.target
  if (q.running === target.sha256) return undefined
  if (!(await repos.deltaPatches.boardDeltaEnabled(q.board))) return undefined
  const patch = await repos.deltaPatches.get(q.running, target.sha256)
  if (!patch) {
    // Only the board's own releases are bases: a device cannot make the server diff arbitrary digests.
    if (await repos.releases.getBySha256(q.board, q.running)) {
      await builds.request({ board: q.board, base: q.running, target: target.sha256 })
    }
    return undefined
  }
  if (patch.state !== 'ready' || patch.disabled_at !== null || patch.sha256 === null || patch.size === null) return undefined
  if (patch.size * 2 >= target.size) return undefined
  if (q.device !== undefined && (await repos.deltaPatches.deviceFailed(q.device, q.running, target.sha256))) return undefined
  return {
    format: DELTA_FORMAT,
    base_sha256: q.running,
    url: `${urlBase}${deltaPath(q.running, target.sha256)}`,
    size: patch.size,
    sha256: patch.sha256,
  }
}
