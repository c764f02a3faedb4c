import fp from 'fastify-plugin'
import { createRepositories, type Repositories } from '../../repositories'

declare module 'fastify' {
  interface FastifyInstance {
    repos: Repositories
  }
}

export default fp(
  async function repositoriesPlugin(app) {
    const repos = createRepositories(app.db, app.clock, { lastSeenFlushMs: app.config.OTA_LAST_SEEN_FLUSH_MS })
    app.decorate('repos', repos)
    // A flush that fails (disk full) keeps its refreshes for the next one: said once per failed flush.
    repos.devices.onRefreshFailure((err, waiting) => app.log.error({ err, waiting }, 'last_seen refreshes not written; kept for the next flush'))
    // Before the database closes (onClose runs in reverse order of registration): the last_seen
    // refreshes waiting in memory are written, so a graceful stop loses none.
    app.addHook('onClose', async () => {
      repos.devices.close()
    })
  },
  { name: 'repositories', dependencies: ['db', 'clock'] }
)
