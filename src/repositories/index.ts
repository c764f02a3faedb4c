import type { Database } from 'better-sqlite3'
import { ArtifactsRepository } from './artifacts'
import { AuditRepository } from './audit'
import { BoardsRepository } from './boards'
import { DeltaPatchesRepository } from './delta-patches'
import { DeviceCredentialsRepository } from './device-credentials'
import { DeviceQueriesRepository } from './device-queries'
import { DevicesRepository } from './devices'
import { FactoryImagesRepository } from './factory-images'
import { LegacyClientsRepository } from './legacy-clients'
import { MetricsRepository } from './metrics'
import { ReleaseHistoryRepository } from './release-history'
import { ReleaseKeysRepository } from './release-keys'
import { ReleasesRepository } from './releases'
import { RolloutPlansRepository } from './rollout-plans'
import { RolloutQueriesRepository } from './rollout-queries'
import { RolloutsRepository } from './rollouts'
import { TokensRepository } from './tokens'

/**
 * Every SQL statement of the application lives in a repository. Their interfaces are async so that
 * a PostgreSQL backend can stand in without changes to routes or services.
 */
export interface Repositories {
  tokens: TokensRepository
  boards: BoardsRepository
  artifacts: ArtifactsRepository
  releaseKeys: ReleaseKeysRepository
  releases: ReleasesRepository
  /** releases' factory images (first flash), written with their release */
  factoryImages: FactoryImagesRepository
  /** historical releases (published before ota-gate), written by the ledger import */
  history: ReleaseHistoryRepository
  /** device check-ins and reports (the writes of every poll) */
  devices: DevicesRepository
  /** the fleet view: one device, pages of devices, counts per version, adoption */
  deviceQueries: DeviceQueriesRepository
  /** device keys, the allow-list, enrollment tokens, the device-token secret and revocations */
  credentials: DeviceCredentialsRepository
  /** the field fleet (/firmware.json, /firmware.app.bin) per address and user agent */
  legacyClients: LegacyClientsRepository
  /** the figures /metrics reads at each scrape */
  metrics: MetricsRepository
  /** changes to staged rollouts, policies, pins and rollbacks */
  rollouts: RolloutsRepository
  /** the rollout state the device endpoints read (cached) */
  rolloutPlans: RolloutPlansRepository
  /** what operators and the auto-halt read about rollouts */
  rolloutQueries: RolloutQueriesRepository
  /** who changed rollouts, when and why */
  audit: AuditRepository
  /** delta patches, failed applies, and the per-board delta switch */
  deltaPatches: DeltaPatchesRepository
}

export function createRepositories(db: Database): Repositories {
  const audit = new AuditRepository(db)
  const rolloutPlans = new RolloutPlansRepository(db)
  return {
    tokens: new TokensRepository(db),
    boards: new BoardsRepository(db),
    artifacts: new ArtifactsRepository(db),
    releaseKeys: new ReleaseKeysRepository(db),
    releases: new ReleasesRepository(db, audit, rolloutPlans),
    factoryImages: new FactoryImagesRepository(db),
    history: new ReleaseHistoryRepository(db, audit, rolloutPlans),
    devices: new DevicesRepository(db),
    deviceQueries: new DeviceQueriesRepository(db),
    credentials: new DeviceCredentialsRepository(db, audit),
    legacyClients: new LegacyClientsRepository(db),
    metrics: new MetricsRepository(db),
    rollouts: new RolloutsRepository(db, audit, rolloutPlans),
    rolloutPlans,
    rolloutQueries: new RolloutQueriesRepository(db),
    audit,
    deltaPatches: new DeltaPatchesRepository(db),
  }
}
