import type { createRepositories } from '../../src/repositories'
import type { InsertOptions, NewRelease } from '../../src/repositories/releases'

// Release rows for repository tests: release n of esp32cam/stable, its binary's digest made of n.

const hex = (c: string, n: number) => c.repeat(n)

export function releaseRow(n: number, over: Partial<NewRelease> = {}): NewRelease {
  return {
    board: 'esp32cam',
    channel: 'stable',
    version: `v${n}`,
    sequence: n,
    sha256: hex(n.toString(16), 64),
    size: 1000 + n,
    md5: hex('a', 32),
    tag: `prod-v${n}`,
    commit_sha: hex('c', 40),
    signature: 'c2ln',
    key_id: null,
    provenance: 'attested',
    chip: 'esp32',
    project_name: 'cam',
    app_version: `v${n}`,
    idf_version: 'v5.1',
    secure_version: 0,
    build_date: 'Jan  1 2026',
    build_time: '12:00:00',
    notes: null,
    published_by: 'ci',
    ...over,
  }
}

/** Records the binaries of releases `ns`, which a release row refers to. */
export async function withArtifacts(repos: ReturnType<typeof createRepositories>, ...ns: number[]) {
  for (const n of ns) await repos.artifacts.record({ sha256: hex(n.toString(16), 64), md5: hex('a', 32), size: 1000 + n })
}

/** A publish's options: the rollout starts at the channel's default, published by `ci`. */
export const PUBLISHED: InsertOptions = { rollout: { percent: undefined, who: { actor: 'ci', reason: null } } }
