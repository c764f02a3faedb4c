import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'
import { GroupCommit } from '../db/group-commit'
import { WriteBehind } from '../db/write-behind'
import {
  REPORTS_KEPT,
  REPORT_COLUMN,
  type CheckIn,
  checkInRow,
  type Report,
  SetbackListeners,
  type SetbackListener,
} from './device-rows'

/** The longest a poll that changes nothing but `last_seen` waits in memory (the contract's 1 s). */
export const LAST_SEEN_FLUSH_MS = 1000

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

/** The parameters of `refreshOnly`, in the order of its placeholders. */
type RefreshQuestion = [
  version: string, sequence: number, board: string, channel: string, offered: number | null,
  verified: number | null, verified: number | null, note: string | null, freeSpace: number | null, freeSpace: number | null,
  sketchMd5: string | null, sketchMd5: string | null, running: string | null, running: string | null,
  takenDevice: string, takenFromVersion: string, device: string,
]

/** What a poll that only proves the device alive changes: kept in memory until the next flush. */
interface Refresh {
  at: number
  address: string
  userAgent: string | null
  polls: number
}

/** Told when refreshes could not be written (they are kept for the next flush). */
export type RefreshFailureListener = (error: unknown, waiting: number) => void

/**
 * Device check-ins: the hot path of every poll. Statements are prepared once. A check-in that
 * changes the fleet's state is a handful of indexed statements in a savepoint of a transaction
 * shared with the check-ins of the same event-loop turn, committed (WAL) before the caller answers;
 * one that only proves the device alive waits in memory at most LAST_SEEN_FLUSH_MS.
 */
export class DevicesRepository {
  private readonly previous: Statement<[string], PreviousDevice>
  private readonly refreshOnly: Statement<RefreshQuestion, number>
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
  private readonly setbackListeners = new SetbackListeners()

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    refreshIntervalMs = LAST_SEEN_FLUSH_MS
  ) {
    const previousColumns = 'board, channel, version, sequence, last_offered, verified, free_space, sketch_md5, note, running_sha256'
    this.previous = db.prepare(`SELECT ${previousColumns} FROM devices WHERE device = ?`)
    this.insertDevice = db.prepare(`INSERT INTO devices
      (device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, first_seen, last_seen, polls, last_offered, note, running_sha256, verified)
      VALUES (@device, @board, @channel, @version, @sequence, @address, @user_agent, @free_space, @sketch_md5, @at, @at, 1, @last_offered, @note, @running_sha256,
        CASE WHEN @verified = 1 AND EXISTS (SELECT 1 FROM device_keys WHERE device = @device AND state = 'accepted') THEN 1 ELSE 0 END)`)
    // Only while the device has an accepted key: a token checked on another instance in the seconds
    // before it learnt of a revocation does not make the revoked device count again.
    this.setVerified = db.prepare(
      "UPDATE devices SET verified = 1 WHERE device = @device AND EXISTS (SELECT 1 FROM device_keys WHERE device = @device AND state = 'accepted')"
    )
    this.setUnverified = db.prepare('UPDATE devices SET verified = 0 WHERE device = ?')
    this.forgetUpdates = db.prepare('DELETE FROM device_releases WHERE device = ?')
    const seen = `address = @address, user_agent = @user_agent, free_space = COALESCE(@free_space, free_space),
      sketch_md5 = COALESCE(@sketch_md5, sketch_md5), last_seen = @at, polls = polls + 1, last_offered = @last_offered, note = @note,
      running_sha256 = COALESCE(@running_sha256, running_sha256)`
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
    // One statement, answered by SQLite as a single number, decides whether a poll only refreshes:
    // the row as recorded, and no silent rollback to find. No row: no answer (undefined).
    this.refreshOnly = db
      .prepare<RefreshQuestion, number>(`SELECT version = ? AND sequence = ? AND board = ? AND channel = ? AND last_offered IS ?
        AND (? IS NULL OR verified = ?) AND note IS ? AND (? IS NULL OR free_space IS ?) AND (? IS NULL OR sketch_md5 IS ?)
        AND (? IS NULL OR running_sha256 IS ?) AND NOT EXISTS (${taken})
        FROM devices WHERE device = ?`)
      .pluck()
    this.markSilentRollback = db.prepare(
      'UPDATE device_releases SET rolled_back_at = ?, rollback_silent = 1 WHERE release_id = ? AND device = ?'
    )
    // An offer of the version the device already runs is no offer: nothing to track. A binary sent
    // to a device whose free OTA space it exceeds is refused before download (HTTPUpdate), so not downloaded.
    this.recordOffer = db.prepare(`INSERT INTO device_releases (release_id, device, from_version, from_sequence, offered_at, downloaded_at)
      SELECT id, @device, @version, @sequence, @at, CASE WHEN size > @free_space THEN NULL ELSE @downloaded_at END
      FROM releases WHERE id = @last_offered AND NOT (board = @board AND version = @version)
      ON CONFLICT (release_id, device) DO UPDATE SET
        offered_at = COALESCE(offered_at, excluded.offered_at),
        downloaded_at = COALESCE(downloaded_at, excluded.downloaded_at)`)
    this.legacyPoll = db.prepare(`INSERT INTO legacy_clients (address, user_agent, first_seen, last_seen, polls) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT (address, user_agent) DO UPDATE SET last_seen = excluded.last_seen, polls = polls + 1`)
    this.recordDeltaOffer = db.prepare(`UPDATE device_releases SET delta_base = @base, delta_size = @size
      WHERE release_id = @offered AND device = @device AND (delta_base IS NOT @base OR delta_size IS NOT @size)`)
    const refresh = db.prepare<[number, string, string | null, number, string]>(
      'UPDATE devices SET last_seen = max(last_seen, ?), address = ?, user_agent = ?, polls = polls + ? WHERE device = ?'
    )
    this.refreshes = new WriteBehind<string, Refresh>(
      db,
      (device, r) => refresh.run(r.at, r.address, r.userAgent, r.polls, device),
      (waiting, next) => ({ ...next, polls: waiting.polls + next.polls }),
      refreshIntervalMs,
      (error, waiting) => this.refreshFailureListeners.forEach((listener) => listener(error, waiting))
    )
    // Polls answered in the same turn share a commit: the commit is most of a check-in's cost. A
    // check-in writes the device's waiting refresh first, which a rollback must put back in memory.
    this.checkIns = new GroupCommit(db, (c: CheckIn) => this.applyCheckIn(c), this.refreshes)
    this.reportTx = this.prepareReports()
  }

  /**
   * Records a poll: the device row, a history row when what it runs changed, and where it stands
   * with the releases it was offered (offered, downloaded, seen running, silently rolled back).
   */
  async checkIn(c: CheckIn): Promise<void> {
    if (this.onlyRefreshes(c)) {
      this.refreshes.set(c.device, { at: c.at ?? this.clock.now(), address: c.address, userAgent: c.userAgent, polls: 1 })
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
    const verified = c.verified === undefined ? null : c.verified ? 1 : 0
    const freeSpace = c.freeSpace ?? null
    const sketchMd5 = c.sketchMd5 ?? null
    const running = c.runningSha256 ?? null
    return this.refreshOnly.get(
      c.version, c.sequence, c.board, c.channel, c.offeredReleaseId,
      verified, verified, c.note ?? null, freeSpace, freeSpace, sketchMd5, sketchMd5, running, running,
      c.device, c.version, c.device
    ) === 1
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
    this.setbackListeners.add(listener)
  }

  private async setbacks(releaseIds: number[], verified: boolean): Promise<void> {
    await this.setbackListeners.tell(releaseIds, verified)
  }

  /** Counts a poll of the field fleet's /firmware.json, which names no device. */
  async recordLegacyPoll(address: string, userAgent: string): Promise<void> {
    const at = this.clock.now()
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
      const at = r.at ?? this.clock.now()
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
    const at = c.at ?? this.clock.now()
    const row = checkInRow(c, at)
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
      this.recordOffer.run({ ...row, downloaded_at: c.delivered ? at : null })
    }
    if (c.offeredReleaseId !== null && c.delta) {
      this.recordDeltaOffer.run({ offered: c.offeredReleaseId, device: c.device, base: c.delta.base, size: c.delta.size })
    }
    return rolledBack
  }
}
