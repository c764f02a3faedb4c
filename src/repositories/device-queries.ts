import type { Database, Statement } from 'better-sqlite3'
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
} from './device-rows'

/** What operators read about devices: one device, pages of the fleet, counts per version, adoption. */
export class DeviceQueriesRepository {
  private readonly listStatements = new Map<string, Statement>()

  constructor(private readonly db: Database) {}

  async get(device: string): Promise<DeviceDetail | undefined> {
    const row = this.db
      .prepare(`SELECT ${DEVICE_COLUMNS} FROM devices d LEFT JOIN releases r ON r.id = d.last_offered WHERE d.device = ?`)
      .get(device) as DeviceRow | undefined
    if (!row) return undefined
    const history = this.db
      .prepare('SELECT board, channel, version, sequence, at FROM device_history WHERE device = ? ORDER BY id DESC LIMIT ?')
      .all(device, DEVICE_VIEW_LIMIT) as HistoryRow[]
    const reports = this.db
      .prepare('SELECT status, version, sequence, detail, verified, at FROM reports WHERE device = ? ORDER BY id DESC LIMIT ?')
      .all(device, DEVICE_VIEW_LIMIT) as ReportRow[]
    const releases = this.db
      .prepare(
        `SELECT dr.release_id, r.board, r.channel, r.version, r.sequence, dr.from_version, dr.offered_at, dr.downloading_at,
           dr.downloaded_at, dr.installed_at, dr.booted_at, dr.failed_at, dr.rolled_back_at, dr.rollback_silent
         FROM device_releases dr JOIN releases r ON r.id = dr.release_id
         WHERE dr.device = ? ORDER BY r.sequence DESC LIMIT ?`
      )
      .all(device, DEVICE_VIEW_LIMIT) as DeviceReleaseRow[]
    return { ...row, history, reports, releases }
  }

  /** Devices per running version, from the counts the triggers keep. */
  async versionCounts(filter: { board?: string; channel?: string }): Promise<VersionCount[]> {
    return this.db
      .prepare(
        `SELECT board, channel, version, sequence, devices, verified FROM fleet_versions
         WHERE (@board IS NULL OR board = @board) AND (@channel IS NULL OR channel = @channel)
         ORDER BY board, channel, sequence DESC, version`
      )
      .all({ board: filter.board ?? null, channel: filter.channel ?? null }) as VersionCount[]
  }

  /** Devices of each board/channel pair last seen before `before`, one index range per pair. */
  async countNotSeenSince(
    pairs: Array<{ board: string; channel: string }>,
    before: number
  ): Promise<Array<{ board: string; channel: string; stale: number }>> {
    const count = this.db.prepare('SELECT count(*) AS n FROM devices WHERE board = ? AND channel = ? AND last_seen < ?')
    return pairs.map((p) => ({ board: p.board, channel: p.channel, stale: (count.get(p.board, p.channel, before) as { n: number }).n }))
  }

  /**
   * A page of devices in id order after `after`. The id never changes, so a walk through the pages
   * meets every device that existed when it began exactly once, whatever polls meanwhile.
   */
  async list(filter: DeviceFilter, after: string | null, limit: number): Promise<DeviceRow[]> {
    const plan = this.listPlan(filter, limit)
    if (plan.kind === 'version' && plan.boards.length === 0) return []
    const where: string[] = []
    const params: Record<string, string | number> = { limit }
    // A unary + keeps SQLite from using that column's index: only the chosen plan's index is usable.
    const col = (name: string, indexed: boolean) => (indexed ? `d.${name}` : `+d.${name}`)
    if (after !== null) {
      where.push('d.device > @after')
      params.after = after
    }
    if (filter.prefix !== undefined) {
      // Ids are lowercase hex, all below 'g': the prefix is one range of the primary key.
      where.push('d.device >= @prefixFrom AND d.device < @prefixTo')
      params.prefixFrom = filter.prefix
      params.prefixTo = `${filter.prefix}g`
    }
    if (plan.kind === 'version') {
      // Every board and channel running the version, so that devices_version is searched by its prefix.
      const inList = (name: string, values: string[]) => {
        values.forEach((v, i) => (params[`${name}${i}`] = v))
        return `d.${name} IN (${values.map((_, i) => `@${name}${i}`).join(', ')})`
      }
      where.push(inList('board', plan.boards), inList('channel', plan.channels))
    }
    for (const key of ['board', 'channel', 'version'] as const) {
      const value = filter[key]
      if (value === undefined) continue
      where.push(`${col(key, plan.kind === 'version')} = @${key}`)
      params[key] = value
    }
    if (filter.seenSince !== undefined) {
      where.push(`${col('last_seen', plan.kind === 'seen')} >= @seenSince`)
      params.seenSince = filter.seenSince
    }
    if (filter.notSeenSince !== undefined) {
      where.push(`${col('last_seen', plan.kind === 'seen')} < @notSeenSince`)
      params.notSeenSince = filter.notSeenSince
    }
    const sql = `SELECT ${DEVICE_COLUMNS} FROM devices d LEFT JOIN releases r ON r.id = d.last_offered
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY d.device LIMIT @limit`
    let statement = this.listStatements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.listStatements.set(sql, statement)
    }
    return statement.all(params) as DeviceRow[]
  }

  /** A release's devices per state reached, and how many run it now: only verified devices when `onlyVerified`. */
  async adoption(release: { id: number; board: string; version: string }, onlyVerified: boolean): Promise<Adoption> {
    const states = this.db
      .prepare(
        `SELECT count(offered_at) AS offered, count(downloading_at) AS downloading, count(downloaded_at) AS downloaded,
           count(installed_at) AS installed, count(booted_at) AS booted, count(failed_at) AS failed,
           count(rolled_back_at) AS rolled_back, coalesce(sum(rolled_back_at IS NOT NULL AND rollback_silent = 1), 0) AS silent_rollbacks
         FROM device_releases dr JOIN devices d ON d.device = dr.device WHERE dr.release_id = ? ${counted(onlyVerified)}`
      )
      .get(release.id) as Omit<Adoption, 'running'>
    const running = this.db
      .prepare(`SELECT coalesce(sum(${onlyVerified ? 'verified' : 'devices'}), 0) AS n FROM fleet_versions WHERE board = ? AND version = ?`)
      .get(release.board, release.version) as { n: number }
    return { ...states, running: running.n }
  }

  /**
   * Which index serves a filtered page. Walking devices in id order visits about limit × total /
   * matches rows; a filter's own index visits every match and sorts them. The walk wins unless
   * matches are fewer than about sqrt(limit × total).
   */
  private listPlan(
    filter: DeviceFilter,
    limit: number
  ): { kind: 'id' } | { kind: 'seen' } | { kind: 'version'; boards: string[]; channels: string[] } {
    const fleet = (this.db.prepare('SELECT coalesce(sum(devices), 0) AS n FROM fleet_versions').get() as { n: number }).n
    // A prefix bounds the walk in id order to its range: ids are spread evenly over the hex digits.
    const total = filter.prefix === undefined ? fleet : Math.ceil(fleet / 16 ** filter.prefix.length)
    const threshold = Math.ceil(Math.sqrt(limit * Math.max(total, 1)))
    let best: { kind: 'id' } | { kind: 'seen' } | { kind: 'version'; boards: string[]; channels: string[] } = { kind: 'id' }
    let bestCount = threshold
    if (filter.version !== undefined) {
      const groups = this.db
        .prepare(
          `SELECT board, channel, sum(devices) AS n FROM fleet_versions
           WHERE version = @version AND (@board IS NULL OR board = @board) AND (@channel IS NULL OR channel = @channel)
           GROUP BY board, channel`
        )
        .all({ version: filter.version, board: filter.board ?? null, channel: filter.channel ?? null }) as Array<{
        board: string
        channel: string
        n: number
      }>
      const n = groups.reduce((sum, g) => sum + g.n, 0)
      if (n <= bestCount) {
        best = { kind: 'version', boards: [...new Set(groups.map((g) => g.board))], channels: [...new Set(groups.map((g) => g.channel))] }
        bestCount = n
      }
    }
    if (filter.seenSince !== undefined || filter.notSeenSince !== undefined) {
      const n = (
        this.db
          .prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM devices WHERE last_seen >= @from AND last_seen < @to LIMIT @cap)`)
          .get({ from: filter.seenSince ?? 0, to: filter.notSeenSince ?? Number.MAX_SAFE_INTEGER, cap: bestCount + 1 }) as { n: number }
      ).n
      if (n < bestCount) best = { kind: 'seen' }
    }
    return best
  }
}
