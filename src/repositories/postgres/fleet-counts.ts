import type pg from 'pg'
import { all, one } from '../../db/postgres'
import type { LegacyClientRow, LegacyClientsRepository, LegacyDownloadRow, LegacyReleaseCount, LegacySummary } from '../legacy-clients'
import type { MetricsRepository, ReleaseCount, VersionCount } from '../metrics'
import type { Shape } from '../shape'

// The field fleet's clients and the figures /metrics reads: counts over the fleet.

export class PgLegacyClientsRepository implements Shape<LegacyClientsRepository> {
  constructor(private readonly pool: pg.Pool) {}

  async recordDownload(address: string, userAgent: string, releaseId: number, at = Date.now()): Promise<void> {
    await this.pool.query(
      `INSERT INTO legacy_downloads AS l (address, user_agent, release_id, first_at, last_at, downloads) VALUES ($1, $2, $3, $4, $4, 1)
       ON CONFLICT (address, user_agent, release_id) DO UPDATE SET last_at = excluded.last_at, downloads = l.downloads + 1`,
      [address, userAgent, releaseId, at]
    )
  }

  async list(limit: number): Promise<LegacyClientRow[]> {
    return all(this.pool, 'SELECT address, user_agent, first_seen, last_seen, polls FROM legacy_clients ORDER BY last_seen DESC, address, user_agent LIMIT $1', [
      limit,
    ])
  }

  async downloadsOf(clients: Array<{ address: string; user_agent: string }>): Promise<LegacyDownloadRow[]> {
    const out: LegacyDownloadRow[] = []
    for (const c of clients) {
      out.push(
        ...(await all<LegacyDownloadRow>(
          this.pool,
          `SELECT d.address, d.user_agent, d.release_id, r.version, r.sequence, d.first_at, d.last_at, d.downloads
           FROM legacy_downloads d JOIN releases r ON r.id = d.release_id
           WHERE d.address = $1 AND d.user_agent = $2 ORDER BY r.sequence DESC`,
          [c.address, c.user_agent]
        ))
      )
    }
    return out
  }

  async releaseCounts(board: string): Promise<LegacyReleaseCount[]> {
    return all(
      this.pool,
      `SELECT r.id AS release_id, r.version, r.sequence, count(*) AS clients, count(DISTINCT d.address) AS addresses
       FROM legacy_downloads d JOIN releases r ON r.id = d.release_id
       WHERE r.board = $1 GROUP BY r.id ORDER BY r.sequence DESC`,
      [board]
    )
  }

  async summary(staleBefore: number): Promise<LegacySummary> {
    return (await one<LegacySummary>(
      this.pool,
      `SELECT count(*) AS clients, count(DISTINCT address) AS addresses,
         count(*) FILTER (WHERE last_seen < $1) AS stale, coalesce(sum(polls), 0) AS polls FROM legacy_clients`,
      [staleBefore]
    )) as LegacySummary
  }
}

export class PgMetricsRepository implements Shape<MetricsRepository> {
  constructor(private readonly pool: pg.Pool) {}

  async topVersions(limit: number): Promise<VersionCount[]> {
    return all(
      this.pool,
      `SELECT board, channel, version, sum(devices) AS devices FROM fleet_versions
       GROUP BY board, channel, version ORDER BY devices DESC, board, channel, version LIMIT $1`,
      [limit]
    )
  }

  async releaseCounts(): Promise<ReleaseCount[]> {
    return all(this.pool, 'SELECT board, channel, count(*) AS releases FROM releases GROUP BY board, channel ORDER BY board, channel')
  }
}
