import fp from 'fastify-plugin'
import type { Repositories } from '../../repositories'

declare module 'fastify' {
  interface FastifyInstance {
    repos: Repositories
  }
}

export default fp(
  async function repositoriesPlugin(app) {
    const repos = app.backend.repos
    app.decorate('repos', repos)
    // A flush that fails (disk full) keeps its refreshes for the next one: said once per failed flush.
    repos.devices.onRefreshFailure((err, waiting) => app.log.error({ err, waiting }, 'last_seen refreshes not written; kept for the next flush'))
  },
  { name: 'repositories', dependencies: ['db', 'clock'] }
)
