import fp from 'fastify-plugin'
import { createRepositories, type Repositories } from '../../repositories'

declare module 'fastify' {
  interface FastifyInstance {
    repos: Repositories
  }
}

export default fp(
  async function repositoriesPlugin(app) {
    app.decorate('repos', createRepositories(app.db, app.clock))
  },
  { name: 'repositories', dependencies: ['db', 'clock'] }
)
