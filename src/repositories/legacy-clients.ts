import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'

/** A client of the field fleet: one address and user agent. */
export interface LegacyClientRow {
  address: string
  user_agent: string
  first_seen: number
  last_seen: number
  polls: number
}

/** A release a field-fleet client downloaded whole. */
export interface LegacyDownloadRow {
  address: string
  user_agent: string
  release_id: number
  version: string
  sequence: number
  first_at: number
  last_at: number
  downloads: number
}

export interface LegacyReleaseCount {
  release_id: number
  version: string
  sequence: number
  /** clients (address and user agent) that downloaded it */
  clients: number
  /** distinct addresses among them */
  addresses: number
}

export interface LegacySummary {
  clients: number
  addresses: number
  /** clients not seen since the time given */
  stale: number
  polls: number
}

/**
 * The field fleet as the server sees it: polls of /firmware.json (recorded by the devices repository
 * with every other check-in) and whole downloads of /firmware.app.bin, per address and user agent.
 */
export class LegacyClientsRepository {
  private readonly download: Statement

  constructor(private readonly db: Database,
    private readonly clock: Clock
  ) {
    this.download = db.prepare(`INSERT INTO legacy_downloads (address, user_agent, release_id, first_at, last_at, downloads)
      VALUES (?, ?, ?, ?, ?, 1)
      ON CONFLICT (address, user_agent, release_id) DO UPDATE SET last_at = excluded.last_at, downloads = downloads + 1`)
  }

  /** Counts a whole download of a release's binary by a field-fleet client. */
  async recordDownload(address: string, userAgent: string, releaseId: number, at = this.clock.now()): Promise<void> {
    this.download.run(address, userAgent, releaseId, at, at)
  }

  /** Clients, most recently seen first, at most `limit`. */
  async list(limit: number): Promise<LegacyClientRow[]> {
    return this.db
      .prepare('SELECT address, user_agent, first_seen, last_seen, polls FROM legacy_clients ORDER BY last_seen DESC, address, user_agent LIMIT ?')
      .all(limit) as LegacyClientRow[]
  }

  /** What the listed clients downloaded, newest release first. */
  async downloadsOf(clients: Array<{ address: string; user_agent: string }>): Promise<LegacyDownloadRow[]> {
    if (clients.length === 0) return []
    const statement = this.db.prepare(
      `SELECT d.address, d.user_agent, d.release_id, r.version, r.sequence, d.first_at, d.last_at, d.downloads
       FROM legacy_downloads d JOIN releases r ON r.id = d.release_id
       WHERE d.address = ? AND d.user_agent = ? ORDER BY r.sequence DESC`
    )
    return clients.flatMap((c) => statement.all(c.address, c.user_agent) as LegacyDownloadRow[])
  }

  /** How many clients downloaded each release of the board, newest first. */
  async releaseCounts(board: string): Promise<LegacyReleaseCount[]> {
    return this.db
      .prepare(
        `SELECT r.id AS release_id, r.version, r.sequence, count(*) AS clients, count(DISTINCT d.address) AS addresses
         FROM legacy_downloads d JOIN releases r ON r.id = d.release_id
         WHERE r.board = ? GROUP BY r.id ORDER BY r.sequence DESC`
      )
      .all(board) as LegacyReleaseCount[]
  }

  /** Clients and addresses in all, and how many were last seen before `staleBefore`. */
  async summary(staleBefore: number): Promise<LegacySummary> {
    return this.db
      .prepare(
        `SELECT count(*) AS clients, count(DISTINCT address) AS addresses,
           coalesce(sum(last_seen < ?), 0) AS stale, coalesce(sum(polls), 0) AS polls FROM legacy_clients`
      )
      .get(staleBefore) as LegacySummary
  }
}
