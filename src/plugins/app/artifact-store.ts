import path from 'node:path'
import fp from 'fastify-plugin'
import type { ArtifactStore } from '../../store/artifact-store'
import { DiskCachedArtifactStore } from '../../store/disk-cached-artifact-store'
import { FsArtifactStore } from '../../store/fs-artifact-store'
import { PgArtifactStore } from '../../store/pg-artifact-store'

declare module 'fastify' {
  interface FastifyInstance {
    artifacts: ArtifactStore
  }
}

/** Folder under OTA_DATA_DIR of an instance's disk copies of binaries kept in PostgreSQL (safe to delete). */
export const ARTIFACT_DISK_CACHE = 'artifact-cache'

/**
 * Binaries under OTA_DATA_DIR; with PostgreSQL, in the database (so every instance serves every
 * binary), each instance keeping a copy on disk of those it served.
 */
export default fp(
  async function artifactStorePlugin(app) {
    const pool = app.backend.pool
    if (pool === undefined) {
      app.decorate('artifacts', new FsArtifactStore(app.config.OTA_DATA_DIR))
      return
    }
    const disk = new FsArtifactStore(path.join(app.config.OTA_DATA_DIR, ARTIFACT_DISK_CACHE))
    const onFillError = (sha256: string, err: unknown) => app.log.warn({ err, sha256 }, 'copying a binary from the database to the disk cache failed')
    app.decorate('artifacts', new DiskCachedArtifactStore(new PgArtifactStore(pool, app.clock), disk, onFillError))
  },
  { name: 'artifact-store', dependencies: ['config', 'clock', 'db'] }
)
