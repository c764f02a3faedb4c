import type { Database, Statement } from 'better-sqlite3'

export interface VersionCount {
  board: string
  channel: string
  version: string
  devices: number
}

export interface ReleaseCount {
  board: string
  channel: string
  releases: number
}

/** The figures /metrics reads at each scrape; each query stays cheap however large the fleet. */
export class MetricsRepository {
  private readonly topVersionsStmt: Statement
  private readonly releaseCountsStmt: Statement

  constructor(db: Database) {
    // From the trigger-kept fleet_versions counts (one row per running version), not a GROUP BY
    // over devices: that scans the whole devices_version_device index, some 400 ms at a million devices,
    // on the event loop at every scrape.
    this.topVersionsStmt = db.prepare(
      `SELECT board, channel, version, sum(devices) AS devices FROM fleet_versions
       GROUP BY board, channel, version ORDER BY devices DESC, board, channel, version LIMIT ?`
    )
    this.releaseCountsStmt = db.prepare(
      'SELECT board, channel, count(*) AS releases FROM releases GROUP BY board, channel ORDER BY board, channel'
    )
  }

  /** Devices per running version, the `limit` most common versions only. */
  async topVersions(limit: number): Promise<VersionCount[]> {
    return this.topVersionsStmt.all(limit) as VersionCount[]
  }

  /** Releases recorded per board and channel (imported historical ones included). */
  async releaseCounts(): Promise<ReleaseCount[]> {
    return this.releaseCountsStmt.all() as ReleaseCount[]
  }
}
