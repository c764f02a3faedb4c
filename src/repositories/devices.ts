import type { Database, Statement } from 'better-sqlite3'
import { GroupCommit } from '../db/group-commit'
import { WriteBehind } from '../db/write-behind'

/** The longest a poll that changes nothing but `last_seen` waits in memory (the contract's 1 s). */
export const LAST_SEEN_FLUSH_MS = 1000

/** One device poll, as the manifest and Arduino routes saw it. */
export interface CheckIn {
  /** 12 lowercase hex */
  device: string
  board: string
  channel: string
  version: string
  sequence: number
  address: string
  userAgent: string | null
  freeSpace?: number | null
  sketchMd5?: string | null
  /** the release this answer offers; null when it offers nothing */
  offeredReleaseId: number | null
  /** the binary itself was sent in this answer (Arduino 200) */
  delivered?: boolean
  note?: string | null
  /** the SHA-256 of the image the device runs, when it says (delta-capable clients) */
  runningSha256?: string | null
  /** the delta patch this answer offers with the release: its base and size */
  delta?: { base: string; size: number } | null
  /**
   * The poll came with the device's token (true) or without (false); undefined leaves the device's
   * standing as it is (device credentials off). A device's first verified check-in drops what
   * unproven requests recorded about its updates: they named it, but may not have been it.
   */
  verified?: boolean
  at?: number
}

export const REPORT_STATUSES = ['downloading', 'downloaded', 'installed', 'booted', 'failed', 'rolled_back'] as const
export type ReportStatus = (typeof REPORT_STATUSES)[number]

/** What a device says about an update. */
export interface Report {
  device: string
  status: ReportStatus
  version: string
  sequence: number
  detail: string | null
  /** as for a check-in */
  verified?: boolean
  at?: number
}

export interface DeviceRow {
  device: string
  board: string
  channel: string
  version: string
  sequence: number
  address: string | null
  user_agent: string | null
  free_space: number | null
  sketch_md5: string | null
  first_seen: number
  last_seen: number
  polls: number
  /** the version of the release the last poll was offered */
  offered_version: string | null
  note: string | null
  running_sha256: string | null
  /** 1 when the device's check-ins come with its device token */
  verified: number
}

export interface HistoryRow {
  board: string
  channel: string
  version: string
  sequence: number
  at: number
}

export interface ReportRow {
  status: ReportStatus
  version: string
  sequence: number
  detail: string | null
  verified: number
  at: number
}

export interface DeviceReleaseRow {
  release_id: number
  board: string
  channel: string
  version: string
  sequence: number
  from_version: string
  offered_at: number | null
  downloading_at: number | null
  downloaded_at: number | null
  installed_at: number | null
  booted_at: number | null
  failed_at: number | null
  rolled_back_at: number | null
  rollback_silent: number
}

export interface DeviceDetail extends DeviceRow {
  history: HistoryRow[]
  reports: ReportRow[]
  releases: DeviceReleaseRow[]
}

export interface VersionCount {
  board: string
  channel: string
  version: string
  sequence: number
  devices: number
  /** of `devices`, those whose check-ins come with their device token */
  verified: number
}

export interface DeviceFilter {
  /** 1 to 12 lowercase hex: devices whose id starts with it */
  prefix?: string
  board?: string
  channel?: string
  version?: string
  /** last_seen at or after this time */
  seenSince?: number
  /** last_seen before this time */
  notSeenSince?: number
}

export interface Adoption {
  offered: number
  downloading: number
  downloaded: number
  installed: number
  booted: number
  failed: number
  rolled_back: number
  silent_rollbacks: number
  running: number
}

/** Told which releases a check-in or report just recorded a failure or rollback for, and whether the device proved who it is. */
export type SetbackListener = (releaseIds: number[], verified: boolean) => Promise<void>

/** How many of a device's latest reports, history rows and release states the device view shows. */
export const DEVICE_VIEW_LIMIT = 100
/** Reports kept per device: a device stuck in a loop cannot fill the disk. */
export const REPORTS_KEPT = 500

const DEVICE_COLUMNS = `d.device, d.board, d.channel, d.version, d.sequence, d.address, d.user_agent, d.free_space, d.sketch_md5,
  d.first_seen, d.last_seen, d.polls, r.version AS offered_version, d.note, d.running_sha256, d.verified`

// One statement per status: the column a report fills is part of the SQL, never a parameter.
const REPORT_COLUMN: Record<ReportStatus, string> = {
  downloading: 'downloading_at',
  downloaded: 'downloaded_at',
  installed: 'installed_at',
  booted: 'booted_at',
  failed: 'failed_at',
  rolled_back: 'rolled_back_at',
}

interface PreviousDevice {
  board: string
  channel: string
  version: string
  sequence: number
  last_offered: number | null
  verified: number
  free_space: number | null
  sketch_md5: string | null
  note: string | null
  running_sha256: string | null
}

/** What a poll that only proves the device alive changes: kept in memory until the next flush. */
interface Refresh {
  at: number
  address: string
  userAgent: string | null
  polls: number
}

/** Told when refreshes could not be written (they are kept for the next flush). */
export type RefreshFailureListener = (error: unknown, waiting: number) => void

/** Which index serves a page of devices: the id walk, or the version's or last_seen's, searched per board and channel. */
type ListPlan = { kind: 'id' } | { kind: 'version' | 'seen'; boards: string[]; channels: string[] }

function pairsOf(rows: Array<{ board: string; channel: string }>): { boards: string[]; channels: string[] } {
  return { boards: [...new Set(rows.map((r) => r.board))], channels: [...new Set(rows.map((r) => r.channel))] }
}

/** Counting only devices that proved who they are (dr: device_releases, d: devices), or every device. */
const counted = (onlyVerified: boolean) => (onlyVerified ? 'AND d.verified = 1' : '')

/**
 * Device check-ins: the hot path of every poll. Statements are prepared once; each check-in is a
 * handful of indexed statements in a savepoint of a transaction shared with the check-ins of the
 * same event-loop turn, committed (WAL) before the caller answers.
 */
export class DevicesRepository {
  private readonly previous: Statement<[string], PreviousDevice>
  private readonly previousAndTaken: Statement<[string, string, string], PreviousDevice & { taken: number }>
  private readonly insertDevice: Statement
  private readonly touchDevice: Statement
  private readonly updateDevice: Statement
  private readonly insertHistory: Statement
  private readonly releaseByVersion: Statement<[string, string], { id: number }>
  private readonly markBooted: Statement
  private readonly takenFrom: Statement<[string, string], { release_id: number }>
  private readonly markSilentRollback: Statement
  private readonly recordOffer: Statement
  private readonly legacyPoll: Statement
  private readonly recordDeltaOffer: Statement
  private readonly setVerified: Statement
  private readonly setUnverified: Statement
  private readonly forgetUpdates: Statement
  private readonly checkIns: GroupCommit<CheckIn, ReturnType<DevicesRepository['applyCheckIn']>>
  /** Devices with a check-in queued for the next commit: their next polls queue behind it. */
  private readonly queued = new Map<string, number>()
  private readonly refreshes: WriteBehind<string, Refresh>
  private readonly refreshFailureListeners: RefreshFailureListener[] = []
  private turn: Promise<void> | undefined
  private readonly reportTx: (r: Report) => { known: boolean; setback: number | null }
  private readonly setbackListeners: SetbackListener[] = []
  private readonly listStatements = new Map<string, Statement>()

  constructor(
    private readonly db: Database,
    refreshIntervalMs = LAST_SEEN_FLUSH_MS
  ) {
    const previousColumns = 'board, channel, version, sequence, last_offered, verified, free_space, sketch_md5, note, running_sha256'
    this.previous = db.prepare(`SELECT ${previousColumns} FROM devices WHERE device = ?`)
    this.insertDevice = db.prepare(`INSERT INTO devices
      (device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, first_seen, last_seen, polls, last_offered, note, running_sha256, verified)
      VALUES (@device, @board, @channel, @version, @sequence, @address, @userAgent, @freeSpace, @sketchMd5, @at, @at, 1, @offered, @note, @running,
        CASE WHEN @verified = 1 AND EXISTS (SELECT 1 FROM device_keys WHERE device = @device AND state = 'accepted') THEN 1 ELSE 0 END)`)
    // Only while the device has an accepted key: a token checked on another instance in the seconds
    // before it learnt of a revocation does not make the revoked device count again.
    this.setVerified = db.prepare(
      "UPDATE devices SET verified = 1 WHERE device = @device AND EXISTS (SELECT 1 FROM device_keys WHERE device = @device AND state = 'accepted')"
    )
    this.setUnverified = db.prepare('UPDATE devices SET verified = 0 WHERE device = ?')
    this.forgetUpdates = db.prepare('DELETE FROM device_releases WHERE device = ?')
    const seen = `address = @address, user_agent = @userAgent, free_space = COALESCE(@freeSpace, free_space),
      sketch_md5 = COALESCE(@sketchMd5, sketch_md5), last_seen = @at, polls = polls + 1, last_offered = @offered, note = @note,
      running_sha256 = COALESCE(@running, running_sha256)`
    // Most polls change nothing the device runs: leaving board..sequence out of the SET keeps SQLite
    // from rewriting devices_version_device and firing the count trigger.
    this.touchDevice = db.prepare(`UPDATE devices SET ${seen} WHERE device = @device`)
    this.updateDevice = db.prepare(
      `UPDATE devices SET board = @board, channel = @channel, version = @version, sequence = @sequence, ${seen} WHERE device = @device`
    )
    this.insertHistory = db.prepare(
      'INSERT INTO device_history (device, board, channel, version, sequence, at) VALUES (@device, @board, @channel, @version, @sequence, @at)'
    )
    this.releaseByVersion = db.prepare('SELECT id FROM releases WHERE board = ? AND version = ?')
    this.markBooted = db.prepare(
      'UPDATE device_releases SET booted_at = ? WHERE release_id = ? AND device = ? AND booted_at IS NULL'
    )
    // Served by the partial index device_releases_taken: usually no row at all.
    const taken = `SELECT release_id FROM device_releases
      WHERE device = ? AND from_version = ? AND rolled_back_at IS NULL
        AND (downloaded_at IS NOT NULL OR installed_at IS NOT NULL OR booted_at IS NOT NULL)`
    this.takenFrom = db.prepare(taken)
    // One statement for what decides whether a poll only refreshes: the row, and a silent rollback to find.
    this.previousAndTaken = db.prepare(`SELECT ${previousColumns}, EXISTS (${taken}) AS taken FROM devices WHERE device = ?`)
    this.markSilentRollback = db.prepare(
      'UPDATE device_releases SET rolled_back_at = ?, rollback_silent = 1 WHERE release_id = ? AND device = ?'
    )
    // An offer of the version the device already runs is no offer: nothing to track. A binary sent
    // to a device whose free OTA space it exceeds is refused before download (HTTPUpdate), so not downloaded.
    this.recordOffer = db.prepare(`INSERT INTO device_releases (release_id, device, from_version, from_sequence, offered_at, downloaded_at)
      SELECT id, @device, @version, @sequence, @at, CASE WHEN size > @freeSpace THEN NULL ELSE @downloadedAt END
      FROM releases WHERE id = @offered AND NOT (board = @board AND version = @version)
      ON CONFLICT (release_id, device) DO UPDATE SET
        offered_at = COALESCE(offered_at, excluded.offered_at),
        downloaded_at = COALESCE(downloaded_at, excluded.downloaded_at)`)
    this.legacyPoll = db.prepare(`INSERT INTO legacy_clients (address, user_agent, first_seen, last_seen, polls) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT (address, user_agent) DO UPDATE SET last_seen = excluded.last_seen, polls = polls + 1`)
    this.recordDeltaOffer = db.prepare(`UPDATE device_releases SET delta_base = @base, delta_size = @size
      WHERE release_id = @offered AND device = @device AND (delta_base IS NOT @base OR delta_size IS NOT @size)`)
    // Polls answered in the same turn share a commit: the commit is most of a check-in's cost.
    this.checkIns = new GroupCommit(db, (c: CheckIn) => this.applyCheckIn(c))
    const refresh = db.prepare(
      'UPDATE devices SET last_seen = max(last_seen, @at), address = @address, user_agent = @userAgent, polls = polls + @polls WHERE device = @device'
    )
    this.refreshes = new WriteBehind<string, Refresh>(
      db,
      (device, r) => refresh.run({ device, ...r }),
      (waiting, next) => ({ ...next, polls: waiting.polls + next.polls }),
      refreshIntervalMs,
      (error, waiting) => this.refreshFailureListeners.forEach((listener) => listener(error, waiting))
    )
    this.reportTx = this.prepareReports()
  }

  /**
   * Records a poll: the device row, a history row when what it runs changed, and where it stands
   * with the releases it was offered (offered, downloaded, seen running, silently rolled back).
   */
  async checkIn(c: CheckIn): Promise<void> {
    if (this.onlyRefreshes(c)) {
      this.refreshes.set(c.device, { at: c.at ?? Date.now(), address: c.address, userAgent: c.userAgent, polls: 1 })
      return this.endOfTurn()
    }
    this.queued.set(c.device, (this.queued.get(c.device) ?? 0) + 1)
    try {
      await this.setbacks(await this.checkIns.run(c), c.verified === true)
    } finally {
      const n = (this.queued.get(c.device) ?? 1) - 1
      if (n === 0) this.queued.delete(c.device)
      else this.queued.set(c.device, n)
    }
  }

  /**
   * Settles once the event loop's current turn is over: the answers to the polls of one turn go
   * out together, as when they waited for their shared commit. Answering each poll the moment it
   * was handled cost more CPU per poll, not less (bench scenario 1 on this 2-core machine: 295 to
   * 400 µs against 186), as the process then woke for every few requests instead of once per turn.
   */
  private endOfTurn(): Promise<void> {
    this.turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turn = undefined
        resolve()
      })
    )
    return this.turn
  }

  /**
   * Whether the poll only proves the device alive: it is known and runs what it ran, its standing,
   * its offer, its note and what it says about its image are as recorded, and it is not back on a
   * version it left after taking a release (a silent rollback). Anything else is a state change,
   * committed before the answer.
   */
  private onlyRefreshes(c: CheckIn): boolean {
    if (c.delivered || c.delta || this.queued.has(c.device)) return false
    const prev = this.previousAndTaken.get(c.device, c.version, c.device)
    return (
      prev !== undefined &&
      prev.version === c.version &&
      prev.sequence === c.sequence &&
      prev.board === c.board &&
      prev.channel === c.channel &&
      prev.last_offered === c.offeredReleaseId &&
      (c.verified === undefined || prev.verified === (c.verified ? 1 : 0)) &&
      prev.note === (c.note ?? null) &&
      (c.freeSpace == null || prev.free_space === c.freeSpace) &&
      (c.sketchMd5 == null || prev.sketch_md5 === c.sketchMd5) &&
      (c.runningSha256 == null || prev.running_sha256 === c.runningSha256) &&
      prev.taken === 0
    )
  }

  /**
   * Writes the refreshes waiting in memory. Every read of `last_seen` (stale counts, device pages,
   * the version-in-field check) calls it first, so none sees a device older than it is.
   */
  flushRefreshes(): boolean {
    return this.refreshes.flush()
  }

  /** Refreshes waiting in memory. */
  get refreshesWaiting(): number {
    return this.refreshes.size
  }

  /** Stops the refresh timer and writes what waits (graceful shutdown). */
  close(): boolean {
    return this.refreshes.close()
  }

  onRefreshFailure(listener: RefreshFailureListener): void {
    this.refreshFailureListeners.push(listener)
  }

  /**
   * Calls `listener` after each committed check-in or report that records a failure or a rollback
   * (reported or silent), with the releases concerned; the poll or report is answered after it.
   */
  onSetback(listener: SetbackListener): void {
    this.setbackListeners.push(listener)
  }

  private async setbacks(releaseIds: number[], verified: boolean): Promise<void> {
    if (releaseIds.length === 0) return
    for (const listener of this.setbackListeners) await listener(releaseIds, verified)
  }

  /** Counts a poll of the field fleet's /firmware.json, which names no device. */
  async recordLegacyPoll(address: string, userAgent: string): Promise<void> {
    const at = Date.now()
    this.legacyPoll.run(address, userAgent, at, at)
  }

  /**
   * Stores a device's report and moves its state with the release the report names (the device's
   * board and the report's version). False when the device has never polled.
   */
  async report(r: Report): Promise<boolean> {
    const { known, setback } = this.reportTx(r)
    if (setback !== null) await this.setbacks([setback], r.verified === true)
    return known
  }

  async get(device: string): Promise<DeviceDetail | undefined> {
    this.flushRefreshes()
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
    this.flushRefreshes()
    const count = this.db.prepare('SELECT count(*) AS n FROM devices WHERE board = ? AND channel = ? AND last_seen < ?')
    return pairs.map((p) => ({ board: p.board, channel: p.channel, stale: (count.get(p.board, p.channel, before) as { n: number }).n }))
  }

  /**
   * A page of devices in id order after `after`. The id never changes, so a walk through the pages
   * meets every device that existed when it began exactly once, whatever polls meanwhile.
   */
  async list(filter: DeviceFilter, after: string | null, limit: number): Promise<DeviceRow[]> {
    this.flushRefreshes()
    const plan = this.listPlan(filter, limit)
    if (plan.kind !== 'id' && plan.boards.length === 0) return []
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
    if (plan.kind !== 'id') {
      // The boards and channels concerned, so that the plan's index (board, channel, …) is searched by its prefix.
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
  private listPlan(filter: DeviceFilter, limit: number): ListPlan {
    const fleet = (this.db.prepare('SELECT coalesce(sum(devices), 0) AS n FROM fleet_versions').get() as { n: number }).n
    // A prefix bounds the walk in id order to its range: ids are spread evenly over the hex digits.
    const total = filter.prefix === undefined ? fleet : Math.ceil(fleet / 16 ** filter.prefix.length)
    const threshold = Math.ceil(Math.sqrt(limit * Math.max(total, 1)))
    let best: ListPlan = { kind: 'id' }
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
      // On one board and channel, devices_version_device yields them in id order: a page reads only its own rows.
      const visits = groups.length === 1 ? Math.min(n, limit) : n
      if (visits <= bestCount) {
        best = { kind: 'version', ...pairsOf(groups) }
        bestCount = visits
      }
    }
    if (filter.seenSince !== undefined || filter.notSeenSince !== undefined) {
      // devices_channel_last_seen (board, channel, last_seen): one range per board and channel.
      const pairs = this.db
        .prepare(
          `SELECT DISTINCT board, channel FROM fleet_versions
           WHERE (@board IS NULL OR board = @board) AND (@channel IS NULL OR channel = @channel)`
        )
        .all({ board: filter.board ?? null, channel: filter.channel ?? null }) as Array<{ board: string; channel: string }>
      const count = this.db.prepare(
        `SELECT count(*) AS n FROM (SELECT 1 FROM devices
         WHERE board = @board AND channel = @channel AND last_seen >= @from AND last_seen < @to LIMIT @cap)`
      )
      let n = 0
      for (const p of pairs) {
        if (n >= bestCount) break
        const range = { from: filter.seenSince ?? 0, to: filter.notSeenSince ?? Number.MAX_SAFE_INTEGER, cap: bestCount - n + 1 }
        n += (count.get({ ...p, ...range }) as { n: number }).n
      }
      if (n < bestCount) best = { kind: 'seen', ...pairsOf(pairs) }
    }
    return best
  }

  private prepareReports(): (r: Report) => { known: boolean; setback: number | null } {
    const device = this.db.prepare('SELECT board, version, verified FROM devices WHERE device = ?') as Statement<
      [string],
      { board: string; version: string; verified: number }
    >
    // When the device already runs the release, the version it left is the one before in its history.
    const versionBefore = this.db.prepare(
      'SELECT version FROM device_history WHERE device = ? AND version <> ? ORDER BY id DESC LIMIT 1'
    ) as Statement<[string, string], { version: string }>
    const insert = this.db.prepare(
      'INSERT INTO reports (device, status, version, sequence, detail, release_id, verified, at) VALUES (@device, @status, @version, @sequence, @detail, @release, @verified, @at)'
    )
    const prune = this.db.prepare(
      `DELETE FROM reports WHERE device = @device
       AND id <= (SELECT id FROM reports WHERE device = @device ORDER BY id DESC LIMIT 1 OFFSET ${REPORTS_KEPT})`
    )
    const states = Object.fromEntries(
      Object.entries(REPORT_COLUMN).map(([status, column]) => [
        status,
        this.db.prepare(`INSERT INTO device_releases (release_id, device, from_version, from_sequence, ${column})
          VALUES (@release, @device, @fromVersion, @fromSequence, @at)
          ON CONFLICT (release_id, device) DO UPDATE SET ${column} = COALESCE(${column}, excluded.${column})
          ${status === 'rolled_back' ? ', rollback_silent = 0' : ''}`),
      ])
    ) as Record<keyof typeof REPORT_COLUMN, Statement>
    const fromSequence = this.db.prepare(
      'SELECT sequence FROM device_history WHERE device = ? AND version = ? ORDER BY id DESC LIMIT 1'
    ) as Statement<[string, string], { sequence: number }>

    return this.db.transaction((r: Report): { known: boolean; setback: number | null } => {
      const at = r.at ?? Date.now()
      const current = device.get(r.device)
      if (!current) return { known: false, setback: null }
      this.standing(r.device, current.verified, r.verified)
      const release = this.releaseByVersion.get(current.board, r.version)
      insert.run({ ...r, release: release?.id ?? null, verified: r.verified ? 1 : 0, at })
      prune.run({ device: r.device })
      if (release) {
        // '' matches no version: a device never seen on anything else has no version to fall back to.
        const fromVersion =
          current.version !== r.version ? current.version : (versionBefore.get(r.device, r.version)?.version ?? '')
        const seq = fromSequence.get(r.device, fromVersion)?.sequence ?? 0
        states[r.status].run({ release: release.id, device: r.device, fromVersion, fromSequence: seq, at })
      }
      const setback = release && (r.status === 'failed' || r.status === 'rolled_back') ? release.id : null
      return { known: true, setback }
    })
  }

  /**
   * Moves a device's standing. Proven for the first time: what unproven requests recorded about
   * its updates is dropped, since anyone could have sent them in its name.
   */
  private standing(device: string, was: number, verified: boolean | undefined): boolean {
    if (verified === undefined || was === (verified ? 1 : 0)) return false
    if (!verified) {
      this.setUnverified.run(device)
      return false
    }
    if (this.setVerified.run({ device }).changes === 0) return false
    this.forgetUpdates.run(device)
    return true
  }

  /** Returns the releases this check-in found silently rolled back. */
  private applyCheckIn(c: CheckIn): number[] {
    const at = c.at ?? Date.now()
    const row = {
      device: c.device,
      board: c.board,
      channel: c.channel,
      version: c.version,
      sequence: c.sequence,
      address: c.address,
      userAgent: c.userAgent,
      freeSpace: c.freeSpace ?? null,
      sketchMd5: c.sketchMd5 ?? null,
      offered: c.offeredReleaseId,
      note: c.note ?? null,
      running: c.runningSha256 ?? null,
      verified: c.verified ? 1 : 0,
      at,
    }
    // A refresh still waiting is older than this check-in: written first, so it cannot overwrite it.
    this.refreshes.applyNow(c.device)
    const prev = this.previous.get(c.device)
    const rolledBack: number[] = []
    let forgot = false
    if (!prev) {
      this.insertDevice.run(row)
      this.insertHistory.run(row)
    } else {
      forgot = this.standing(c.device, prev.verified, c.verified)
      const changed =
        prev.version !== c.version || prev.sequence !== c.sequence || prev.board !== c.board || prev.channel !== c.channel
      if (!changed) this.touchDevice.run(row)
      else {
        this.updateDevice.run(row)
        this.insertHistory.run(row)
        // Seen running a release it was offered (or reported about): the update succeeded.
        const running = this.releaseByVersion.get(c.board, c.version)
        if (running) this.markBooted.run(at, running.id, c.device)
      }
      // Back on the version it left after taking a release: a rollback, said or not. Probed
      // before this answer's own delivery is recorded, so only an earlier download counts.
      for (const taken of this.takenFrom.all(c.device, c.version)) {
        this.markSilentRollback.run(at, taken.release_id, c.device)
        rolledBack.push(taken.release_id)
      }
    }
    if (c.offeredReleaseId !== null && (prev?.last_offered !== c.offeredReleaseId || c.delivered || forgot)) {
      this.recordOffer.run({ ...row, downloadedAt: c.delivered ? at : null })
    }
    if (c.offeredReleaseId !== null && c.delta) {
      this.recordDeltaOffer.run({ offered: c.offeredReleaseId, device: c.device, base: c.delta.base, size: c.delta.size })
    }
    return rolledBack
  }
}
