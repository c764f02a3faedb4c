import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { openDatabase } from '../../src/db/open'
import { createRepositories } from '../../src/repositories'
import { FsArtifactStore } from '../../src/store/fs-artifact-store'
import { PUBLISHED } from './release-rows'
import { tempDir, type TestContext } from './server'

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/**
 * Server settings for tests that measure downloads: load shedding (503 when the event loop lags)
 * and the device rate limit have their own tests, and here would only make results depend on how
 * busy the machine is.
 */
export const STEADY_ENV: Readonly<Record<string, string>> = {
  OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
  OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0',
  OTA_OVERLOAD_HEAP_BYTES: '0',
  OTA_DEVICE_RATE_LIMIT: '0',
}

export interface StoredArtifacts {
  /** the data folder, to pass to startServer / startServerProcess */
  dir: string
  /** the SHA-256 of each binary, in order */
  shas: string[]
  /** where the store keeps an artifact's bytes */
  fileOf(sha: string): string
}

/**
 * A fresh data folder holding `binaries` as stored, recorded artifacts (the real file store and
 * artifacts repository), ready for a server to start over it. Devices are served only binaries a
 * release names, so each is also recorded as a release of board esp32cam on channel `stored`
 * (sequence 1, 2, …), which no device polls. No token needed.
 */
export async function storeArtifacts(t: TestContext, binaries: Buffer[]): Promise<StoredArtifacts> {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  const store = new FsArtifactStore(dir)
  const shas: string[] = []
  try {
    const { artifacts: repo, releases } = createRepositories(db)
    for (const bytes of binaries) {
      const sha = sha256(bytes)
      const stored = await repo.record(await store.put(sha, Readable.from([bytes]), bytes.length))
      shas.push(sha)
      const n = shas.length
      await releases.insert({
        ...NO_IMAGE_FACTS,
        board: 'esp32cam',
        channel: 'stored',
        version: `stored-${n}`,
        sequence: n,
        sha256: sha,
        size: stored.size,
        md5: stored.md5,
        tag: `prod-stored-${n}`,
        commit_sha: sha.slice(0, 40),
        provenance: 'attested',
      }, PUBLISHED)
    }
  } finally {
    db.close()
  }
  return { dir, shas, fileOf: (sha) => store.pathOf(sha) }
}

const NO_IMAGE_FACTS = {
  signature: null,
  key_id: null,
  chip: null,
  project_name: null,
  app_version: null,
  idf_version: null,
  secure_version: null,
  build_date: null,
  build_time: null,
  notes: null,
  published_by: null,
} as const
