import type { FastifyPluginAsync } from 'fastify'
import type { Clock } from './clock'
import type { Config } from './config'
import configPlugin from './plugins/external/config'
import clockPlugin from './plugins/external/clock'
import dbPlugin from './plugins/external/db'
import errorHandler from './plugins/external/error-handler'
import hostRequired from './plugins/external/host-required'
import artifactStore from './plugins/app/artifact-store'
import artifactCache from './plugins/app/artifact-cache'
import auth from './plugins/app/auth'
import repositories from './plugins/app/repositories'
import changeFeed from './plugins/app/change-feed'
import serverKey from './plugins/app/server-key'
import metricsPlugin from './plugins/app/metrics'
import pollRecorder from './plugins/app/poll-recorder'
import apiDocs from './plugins/app/api-docs'
import loadShedding from './plugins/app/load-shedding'
import deviceRateLimit from './plugins/app/device-rate-limit'
import health from './routes/health'
import metrics from './routes/metrics'
import boards from './routes/boards'
import releaseImport from './routes/release-import'
import artifacts from './routes/artifacts'
import artifactPrune from './routes/artifact-prune'
import releases from './routes/releases'
import manifest from './routes/manifest'
import keys from './routes/keys'
import legacy from './routes/legacy'
import arduino from './routes/arduino'
import firmware from './routes/firmware'
import firstFlash from './routes/first-flash'
import reports from './routes/reports'
import fleet from './routes/fleet'
import legacyFleet from './routes/legacy-fleet'
import rollouts from './routes/rollouts'
import audit from './routes/audit'
import whoami from './routes/whoami'
import consoleRoutes from './routes/console'
import autoHalt from './plugins/app/auto-halt'
import deltaBuilds from './plugins/app/delta-builds'
import delta from './routes/delta'
import deviceAuth from './plugins/app/device-auth'
import deviceEnrollment from './routes/device-enrollment'
import deviceAdmission from './routes/device-admission'

export interface AppOptions {
  config: Config
  /** the system clock in server.ts; tests pass one they move */
  clock: Clock
}

/**
 * The whole application as one plugin, in tiers: external resources (config, database), then
 * application services (repositories, stores, auth), then routes. server.ts and the tests build
 * it the same way, through createServer().
 */
const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  // external
  await fastify.register(configPlugin, { config: opts.config })
  await fastify.register(clockPlugin, { clock: opts.clock })
  await fastify.register(errorHandler)
  await fastify.register(hostRequired)
  await fastify.register(dbPlugin)
  // application services
  await fastify.register(repositories)
  await fastify.register(changeFeed)
  await fastify.register(artifactStore)
  await fastify.register(artifactCache)
  await fastify.register(auth)
  await fastify.register(serverKey)
  await fastify.register(metricsPlugin)
  await fastify.register(pollRecorder)
  await fastify.register(autoHalt)
  await fastify.register(deltaBuilds)
  // these see each route as it is added, so they come before all routes
  await fastify.register(apiDocs)
  await fastify.register(loadShedding)
  await fastify.register(deviceRateLimit)
  await fastify.register(deviceAuth)
  // routes
  await fastify.register(health)
  await fastify.register(metrics)
  await fastify.register(boards)
  await fastify.register(releaseImport)
  await fastify.register(artifacts)
  await fastify.register(artifactPrune)
  await fastify.register(releases)
  await fastify.register(manifest)
  await fastify.register(keys)
  await fastify.register(legacy)
  await fastify.register(arduino)
  await fastify.register(firmware)
  await fastify.register(firstFlash)
  await fastify.register(reports)
  await fastify.register(fleet)
  await fastify.register(legacyFleet)
  await fastify.register(rollouts)
  await fastify.register(audit)
  await fastify.register(whoami)
  await fastify.register(consoleRoutes)
  await fastify.register(delta)
  await fastify.register(deviceEnrollment)
  await fastify.register(deviceAdmission)
}

export default app
