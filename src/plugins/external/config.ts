import fp from 'fastify-plugin'
import type { Config } from '../../config'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** Makes the configuration, validated once by server.ts, visible to every plugin. */
export default fp(
  async function configPlugin(app, opts: { config: Config }) {
    app.decorate('config', opts.config)
  },
  { name: 'config' }
)
