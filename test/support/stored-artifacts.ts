import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { openDatabase } from '../../src/db/open'
import { ArtifactsRepository } from '../../src/repositories/artifacts'
import { FsArtifactStore } from '../../src/store/fs-artifact-store'
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
 * artifacts repository), ready for a server to start over it. Neither a release nor a token needed.
 */
export async function storeArtifacts(t: TestContext, binaries: Buffer[]): Promise<StoredArtifacts> {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  const store = new FsArtifactStore(dir)
  const shas: string[] = []
  try {
    const repo = new ArtifactsRepository(db)
    for (const bytes of binaries) {
      const sha = sha256(bytes)
      await repo.record(await store.put(sha, Readable.from([bytes]), bytes.length))
      shas.push(sha)
    }
  } finally {
    db.close()
  }
  return { dir, shas, fileOf: (sha) => store.pathOf(sha) }
}
