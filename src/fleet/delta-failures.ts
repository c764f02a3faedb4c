import type { Repositories } from '../repositories'

export interface DeltaFailureReport {
  device: string
  /** the version the device was updating to */
  version: string
  detail: string | null
}

/**
 * A device says applying its delta failed: it gets the full image of that release from now on, and
 * the patch (its running digest to the release's binary) is switched off for everyone once `limit`
 * devices have said so. A report that matches no patch changes nothing. Returns the patch's failure
 * count, or undefined when there was no patch to count against.
 */
export async function recordDeltaFailure(repos: Repositories, r: DeltaFailureReport, limit: number): Promise<number | undefined> {
  const running = await repos.deltaPatches.deviceRunning(r.device)
  if (!running?.running_sha256) return undefined
  const target = await repos.releases.get(running.board, r.version)
  if (!target?.sha256) return undefined
  const patch = await repos.deltaPatches.get(running.running_sha256, target.sha256)
  if (!patch) return undefined
  const failures = await repos.deltaPatches.recordFailure({ device: r.device, base: running.running_sha256, target: target.sha256, detail: r.detail })
  if (failures >= limit) await repos.deltaPatches.disable(running.running_sha256, target.sha256)
  return failures
}
