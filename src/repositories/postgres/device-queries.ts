import type pg from 'pg'
import { all, one } from '../../db/postgres'
import {
  DEVICE_COLUMNS,
  DEVICE_VIEW_LIMIT,
  counted,
  type Adoption,
  type DeviceDetail,
  type DeviceFilter,
  type DeviceReleaseRow,
  type DeviceRow,
  type HistoryRow,
  type ReportRow,
  type VersionCount,
} from '../device-rows'
import type { DeviceQueriesRepository } from '../device-queries'
import type { Shape } from '../shape'

/** The operator's reads of the fleet on PostgreSQL: a device, version counts, stale counts, pages, adoption. */
export class PgDeviceQueriesRepository implements Shape<DeviceQueriesRepository> {
  constructor(private readonly pool: pg.Pool) {}

  async get(device: string): Promise<DeviceDetail | undefined> {
    const row = await one<DeviceRow>(this.pool, `SELECT ${DEVICE_COLUMNS} FROM devices d LEFT JOIN releases r ON r.id = d.last_offered WHERE d.device = $1`, [
      device,
    ])
    if (!row) return undefined
    const history = await all<HistoryRow>(
      this.pool,
      'SELECT board, channel, version, sequence, at FROM device_history WHERE device = $1 ORDER BY id DESC LIMIT $2',
      [device, DEVICE_VIEW_LIMIT]
    )
    const reports = await all<ReportRow>(
      this.pool,
      'SELECT status, version, sequence, detail, verified, at FROM reports WHERE device = $1 ORDER BY id DESC LIMIT $2',
      [device, DEVICE_VIEW_LIMIT]
    )
    const releases = await all<DeviceReleaseRow>(
      this.pool,
      `SELECT dr.release_id, r.board, r.channel, r.version, r.sequence, dr.from_version, dr.offered_at, dr.downloading_at,
         dr.downloaded_at, dr.installed_at, dr.booted_at, dr.failed_at, dr.rolled_back_at, dr.rollback_silent
       FROM device_releases dr JOIN releases r ON r.id = dr.release_id
       WHERE dr.device = $1 ORDER BY r.sequence DESC LIMIT $2`,
      [device, DEVICE_VIEW_LIMIT]
    )
    return { ...row, history, reports, releases }
  }

  async versionCounts(filter: { board?: string; channel?: string }): Promise<VersionCount[]> {
    return all(
      this.pool,
      `SELECT board, channel, version, sequence, devices, verified FROM fleet_versions
       WHERE ($1::text IS NULL OR board = $1) AND ($2::text IS NULL OR channel = $2)
       ORDER BY board, channel, sequence DESC, version`,
      [filter.board ?? null, filter.channel ?? null]
    )
  }

  async countNotSeenSince(pairs: Array<{ board: string; channel: string }>, before: number): Promise<Array<{ board: string; channel: string; stale: number }>> {
    const out = []
    for (const p of pairs) {
      const row = await one<{ n: number }>(this.pool, 'SELECT count(*) AS n FROM devices WHERE board = $1 AND channel = $2 AND last_seen < $3', [
        p.board,
        p.channel,
        before,
      ])
      out.push({ board: p.board, channel: p.channel, stale: (row as { n: number }).n })
    }
    return out
  }

  /** A page of devices in id order after `after`; PostgreSQL's planner picks the index. */
  async list(filter: DeviceFilter, after: string | null, limit: number): Promise<DeviceRow[]> {
    const where: string[] = []
    const params: unknown[] = []
    const param = (v: unknown) => {
      params.push(v)
      return `$${params.length}`
    }
    if (after !== null) where.push(`d.device > ${param(after)}`)
    if (filter.prefix !== undefined) where.push(`d.device >= ${param(filter.prefix)} AND d.device < ${param(`${filter.prefix}g`)}`)
    for (const key of ['board', 'channel', 'version'] as const) {
      const value = filter[key]
      if (value !== undefined) where.push(`d.${key} = ${param(value)}`)
    }
    if (filter.seenSince !== undefined) where.push(`d.last_seen >= ${param(filter.seenSince)}`)
    if (filter.notSeenSince !== undefined) where.push(`d.last_seen < ${param(filter.notSeenSince)}`)
    return all(
      this.pool,
      `SELECT ${DEVICE_COLUMNS} FROM devices d LEFT JOIN releases r ON r.id = d.last_offered
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY d.device LIMIT ${param(limit)}`,
      params
    )
  }

  async adoption(release: { id: number; board: string; version: string }, onlyVerified: boolean): Promise<Adoption> {
    const states = (await one<Omit<Adoption, 'running'>>(
      this.pool,
      `SELECT count(offered_at) AS offered, count(downloading_at) AS downloading, count(downloaded_at) AS downloaded,
         count(installed_at) AS installed, count(booted_at) AS booted, count(failed_at) AS failed,
         count(rolled_back_at) AS rolled_back, count(*) FILTER (WHERE rolled_back_at IS NOT NULL AND rollback_silent = 1) AS silent_rollbacks
       FROM device_releases dr JOIN devices d ON d.device = dr.device WHERE dr.release_id = $1 ${counted(onlyVerified)}`,
      [release.id]
    )) as Omit<Adoption, 'running'>
    const running = (await one<{ n: number }>(
      this.pool,
      `SELECT coalesce(sum(${onlyVerified ? 'verified' : 'devices'}), 0) AS n FROM fleet_versions WHERE board = $1 AND version = $2`,
      [release.board, release.version]
    )) as { n: number }
    return { ...states, running: running.n }
  }
}
