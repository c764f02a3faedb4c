import type pg from 'pg'
import type { Clock } from '../../clock'
import type { Repositories } from '..'
import { PgAuditRepository } from './audit'
import { PgArtifactsRepository, PgBoardsRepository, PgReleaseKeysRepository } from './catalog'
import { PgDeviceCredentialsRepository } from './credentials'
import { PgDeltaPatchesRepository } from './delta-patches'
import { PgDeviceQueriesRepository } from './device-queries'
import { PgDevicesRepository } from './devices'
import { PgLegacyClientsRepository, PgMetricsRepository } from './fleet-counts'
import { PgFactoryImagesRepository, PgReleaseHistoryRepository, PgReleasesRepository } from './releases'
import { PgRolloutPlansRepository, PgRolloutQueriesRepository, PgRolloutsRepository } from './rollouts'
import { PgTokensRepository } from './tokens'

/**
 * Every repository on PostgreSQL, over one pool whose database `migratePostgres` has brought up to
 * date; `clock` stamps every row they write and times their caches, as createRepositories'.
 */
export function createPostgresRepositories(pool: pg.Pool, clock: Clock): Repositories {
  const rolloutPlans = new PgRolloutPlansRepository(pool, clock)
  return {
    tokens: new PgTokensRepository(pool, clock),
    boards: new PgBoardsRepository(pool, clock),
    artifacts: new PgArtifactsRepository(pool, clock),
    releaseKeys: new PgReleaseKeysRepository(pool, clock),
    releases: new PgReleasesRepository(pool, clock, rolloutPlans),
    factoryImages: new PgFactoryImagesRepository(pool),
    history: new PgReleaseHistoryRepository(pool, clock, rolloutPlans),
    devices: new PgDevicesRepository(pool, clock),
    deviceQueries: new PgDeviceQueriesRepository(pool),
    credentials: new PgDeviceCredentialsRepository(pool, clock),
    legacyClients: new PgLegacyClientsRepository(pool, clock),
    metrics: new PgMetricsRepository(pool),
    rollouts: new PgRolloutsRepository(pool, clock, rolloutPlans),
    rolloutPlans,
    rolloutQueries: new PgRolloutQueriesRepository(pool),
    audit: new PgAuditRepository(pool),
    deltaPatches: new PgDeltaPatchesRepository(pool, clock),
  }
}
