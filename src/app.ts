import type { FastifyPluginAsync } from 'fastify'
import type { Config } from './config'
import configPlugin from './plugins/external/config'
import dbPlugin from './plugins/external/db'
import errorHandler from './plugins/external/error-handler'
import artifactStore from './plugins/app/artifact-store'
import artifactCache from './plugins/app/artifact-cache'
import auth from './plugins/app/auth'
import repositories from './plugins/app/repositories'
import health from './routes/health'
import boards from './routes/boards'
import releaseImport from './routes/release-import'
import artifacts from './routes/artifacts'
import releases from './routes/releases'
import firmware from './routes/firmware'

export interface AppOptions {
  config: Config
}

/**
 * The whole application as one plugin, in tiers: external resources (config, database), then
 * application services (repositories, stores, auth), then routes. server.ts and the tests build
 * it the same way, through createServer().
 */
const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  // external
  await fastify.register(configPlugin, { config: opts.config })
  await fastify.register(errorHandler)
  await fastify.register(dbPlugin)
  // application services
  await fastify.register(repositories)
  await fastify.register(artifactStore)
  await fastify.register(artifactCache)
  await fastify.register(auth)
  // routes
  await fastify.register(health)
  await fastify.register(boards)
  await fastify.register(releaseImport)
  await fastify.register(artifacts)
  await fastify.register(releases)
  await fastify.register(firmware)
}

export default app
