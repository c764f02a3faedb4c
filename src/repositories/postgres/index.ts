import type pg from 'pg'
import type { Repositories } from '..'
import { PgAuditRepository } from './audit'
import { PgArtifactsRepository, PgBoardsRepository, PgReleaseKeysRepository } from './catalog'
import { PgDeviceCredentialsRepository } from './credentials'
import { PgDeltaPatchesRepository } from './delta-patches'
import { PgDeviceQueriesRepository, PgDevicesRepository } from './devices'
import { PgLegacyClientsRepository, PgMetricsRepository } from './fleet-counts'
import { PgFactoryImagesRepository, PgReleaseHistoryRepository, PgReleasesRepository } from './releases'
import { PgRolloutPlansRepository, PgRolloutQueriesRepository, PgRolloutsRepository } from './rollouts'
import { PgTokensRepository } from './tokens'

/** Every repository on PostgreSQL, over one pool whose database `migratePostgres` has brought up to date. */
export function createPostgresRepositories(pool: pg.Pool): Repositories {
  const rolloutPlans = new PgRolloutPlansRepository(pool)
  return {
    tokens: new PgTokensRepository(pool),
    boards: new PgBoardsRepository(pool),
    artifacts: new PgArtifactsRepository(pool),
    releaseKeys: new PgReleaseKeysRepository(pool),
    releases: new PgReleasesRepository(pool, rolloutPlans),
    factoryImages: new PgFactoryImagesRepository(pool),
    history: new PgReleaseHistoryRepository(pool, rolloutPlans),
    devices: new PgDevicesRepository(pool),
    deviceQueries: new PgDeviceQueriesRepository(pool),
    credentials: new PgDeviceCredentialsRepository(pool),
    legacyClients: new PgLegacyClientsRepository(pool),
    metrics: new PgMetricsRepository(pool),
    rollouts: new PgRolloutsRepository(pool, rolloutPlans),
    rolloutPlans,
    rolloutQueries: new PgRolloutQueriesRepository(pool),
    audit: new PgAuditRepository(pool),
    deltaPatches: new PgDeltaPatchesRepository(pool),
  }
}
