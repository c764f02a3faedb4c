import fp from 'fastify-plugin'
import { DeltaBuilds } from '../../release/delta-builds'

declare module 'fastify' {
  interface FastifyInstance {
    deltaBuilds: DeltaBuilds
  }
}

/** The delta patch builder: resumes builds a stopped server left half-done, stops with the server. */
export default fp(
  async function deltaBuildsPlugin(app) {
    const builds = new DeltaBuilds({ repos: app.repos, artifacts: app.artifacts, config: app.config, log: app.log })
    app.decorate('deltaBuilds', builds)
    app.addHook('onReady', async () => {
      await builds.resume()
    })
    app.addHook('onClose', async () => {
      await builds.close()
    })
  },
  { name: 'delta-builds', dependencies: ['config', 'repositories', 'artifact-store'] }
)
