import fp from 'fastify-plugin'
import type { ArtifactStore } from '../../store/artifact-store'
import { FsArtifactStore } from '../../store/fs-artifact-store'

declare module 'fastify' {
  interface FastifyInstance {
    artifacts: ArtifactStore
  }
}

export default fp(
  async function artifactStorePlugin(app) {
    app.decorate('artifacts', new FsArtifactStore(app.config.OTA_DATA_DIR))
  },
  { name: 'artifact-store', dependencies: ['config'] }
)
