import type { Repositories } from '../repositories'
import type { ArtifactRow } from '../repositories/artifacts'
import type { ArtifactCache } from '../store/artifact-cache'
import type { ArtifactStore } from '../store/artifact-store'

export interface PruneDeps {
  repos: Pick<Repositories, 'artifacts'>
  artifacts: ArtifactStore
  artifactCache: ArtifactCache
}

/**
 * Removes the uploads no release names that were recorded before `before`: their row first (only
 * while still unreleased, checked in the same statement), then their bytes. A release published
 * from one of them meanwhile keeps it. With `dryRun`, only lists what would go.
 */
export async function pruneUnreleased(deps: PruneDeps, before: number, dryRun: boolean): Promise<ArtifactRow[]> {
  const candidates = await deps.repos.artifacts.unreleased(before)
  if (dryRun) return candidates
  const removed: ArtifactRow[] = []
  for (const artifact of candidates) {
    if (!(await deps.repos.artifacts.forgetUnreleased(artifact.sha256))) continue
    deps.artifactCache.forget(artifact.sha256)
    await deps.artifacts.remove(artifact.sha256)
    removed.push(artifact)
  }
  return removed
}
