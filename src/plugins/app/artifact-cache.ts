import fp from 'fastify-plugin'
import { ArtifactCache } from '../../store/artifact-cache'

declare module 'fastify' {
  interface FastifyInstance {
    artifactCache: ArtifactCache
  }
}

/** Release binaries in memory for fast downloads, bounded by OTA_CACHE_BYTES (0 disables it). */
export default fp(
  async function artifactCachePlugin(app) {
    app.decorate('artifactCache', new ArtifactCache(app.artifacts, app.config.OTA_CACHE_BYTES))
  },
  { name: 'artifact-cache', dependencies: ['artifact-store'] }
)
