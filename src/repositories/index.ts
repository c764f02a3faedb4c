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
import type { Shape } from './shape'

/** The audit log as routes read it; writes happen inside the changes they record. */
export type AuditStore = Omit<Shape<AuditRepository>, 'recordSync'>

/**
 * Every SQL statement of the application lives in a repository. Each is an interface (the public
 * shape of the SQLite class) that the PostgreSQL classes (repositories/postgres/) implement too;
 * routes and services never know which backend runs.
 */
export interface Repositories {
  tokens: Shape<TokensRepository>
  boards: Shape<BoardsRepository>
  artifacts: Shape<ArtifactsRepository>
  releaseKeys: Shape<ReleaseKeysRepository>
  releases: Shape<ReleasesRepository>
  /** releases' factory images (first flash), written with their release */
  factoryImages: Shape<FactoryImagesRepository>
  /** historical releases (published before ota-gate), written by the ledger import */
  history: Shape<ReleaseHistoryRepository>
  /** device check-ins and reports (the writes of every poll) */
  devices: Shape<DevicesRepository>
  /** the fleet view: one device, pages of devices, counts per version, adoption */
  deviceQueries: Shape<DeviceQueriesRepository>
  /** device keys, the allow-list, enrollment tokens, the device-token secret and revocations */
  credentials: Shape<DeviceCredentialsRepository>
  /** the field fleet (/firmware.json, /firmware.app.bin) per address and user agent */
  legacyClients: Shape<LegacyClientsRepository>
  /** the figures /metrics reads at each scrape */
  metrics: Shape<MetricsRepository>
  /** changes to staged rollouts, policies, pins and rollbacks */
  rollouts: Shape<RolloutsRepository>
  /** the rollout state the device endpoints read (cached) */
  rolloutPlans: Shape<RolloutPlansRepository>
  /** what operators and the auto-halt read about rollouts */
  rolloutQueries: Shape<RolloutQueriesRepository>
  /** who changed rollouts, when and why */
  audit: AuditStore
  /** delta patches, failed applies, and the per-board delta switch */
  deltaPatches: Shape<DeltaPatchesRepository>
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
