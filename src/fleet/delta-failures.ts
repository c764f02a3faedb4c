import type { Repositories } from '../repositories'

export interface DeltaFailureReport {
  device: string
  /** the version the device was updating to */
  version: string
  detail: string | null
  /** the report came with the device's token */
  verified: boolean
}

/**
 * A device says applying its delta failed: it gets the full image of that release from now on, and
 * the patch (its running digest to the release's binary) is switched off for everyone once `limit`
 * devices have said so (with `onlyVerified`, devices that proved who they are: an unproven report
 * only costs the device it names its delta). A report that matches no patch changes nothing. `known` is false for a
 * device that never polled; `failures` is the patch's failure count when there was a patch.
 */
export async function recordDeltaFailure(
  repos: Repositories,
  r: DeltaFailureReport,
  limit: number,
  onlyVerified: boolean
): Promise<{ known: boolean; failures?: number }> {
  const running = await repos.deltaPatches.deviceRunning(r.device)
  if (!running) return { known: false }
  if (!running.running_sha256) return { known: true }
  const target = await repos.releases.get(running.board, r.version)
  if (!target?.sha256) return { known: true }
  const patch = await repos.deltaPatches.get(running.running_sha256, target.sha256)
  if (!patch) return { known: true }
  const failures = await repos.deltaPatches.recordFailure({ device: r.device, base: running.running_sha256, target: target.sha256, detail: r.detail, verified: r.verified, onlyVerified })
  if (failures >= limit) await repos.deltaPatches.disable(running.running_sha256, target.sha256)
  return { known: true, failures }
}
