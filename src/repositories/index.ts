import type { Database } from 'better-sqlite3'
import { ArtifactsRepository } from './artifacts'
import { BoardsRepository } from './boards'
import { DevicesRepository } from './devices'
import { MetricsRepository } from './metrics'
import { ReleaseHistoryRepository } from './release-history'
import { ReleaseKeysRepository } from './release-keys'
import { ReleasesRepository } from './releases'
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
  /** historical releases (published before ota-gate), written by the ledger import */
  history: ReleaseHistoryRepository
  /** device check-ins, reports and the fleet view */
  devices: DevicesRepository
  /** the figures /metrics reads at each scrape */
  metrics: MetricsRepository
}

export function createRepositories(db: Database): Repositories {
  return {
    tokens: new TokensRepository(db),
    boards: new BoardsRepository(db),
    artifacts: new ArtifactsRepository(db),
    releaseKeys: new ReleaseKeysRepository(db),
    releases: new ReleasesRepository(db),
    history: new ReleaseHistoryRepository(db),
    devices: new DevicesRepository(db),
    metrics: new MetricsRepository(db),
  }
}
