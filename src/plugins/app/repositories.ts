import fp from 'fastify-plugin'
import type { Repositories } from '../../repositories'

declare module 'fastify' {
  interface FastifyInstance {
    repos: Repositories
  }
}

export default fp(
  async function repositoriesPlugin(app) {
    app.decorate('repos', app.backend.repos)
  },
  { name: 'repositories', dependencies: ['db'] }
)
