import type { Database, Statement } from 'better-sqlite3'

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
  at?: number
}

interface PreviousDevice {
  board: string
  channel: string
  version: string
  sequence: number
  last_offered: number | null
}

/**
 * Device check-ins: the hot path of every poll. Statements are prepared once; each check-in is one
 * transaction of a handful of indexed statements, committed (WAL) before the caller answers.
 */
export class DevicesRepository {
  private readonly previous: Statement<[string], PreviousDevice>
  private readonly insertDevice: Statement
  private readonly updateDevice: Statement
  private readonly insertHistory: Statement
  private readonly releaseByVersion: Statement<[string, string], { id: number }>
  private readonly markBooted: Statement
  private readonly takenFrom: Statement<[string, string], { release_id: number }>
  private readonly markSilentRollback: Statement
  private readonly recordOffer: Statement
  private readonly legacyPoll: Statement
  private readonly checkInTx: (c: CheckIn) => void

  constructor(private readonly db: Database) {
    this.previous = db.prepare('SELECT board, channel, version, sequence, last_offered FROM devices WHERE device = ?')
    this.insertDevice = db.prepare(`INSERT INTO devices
      (device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, first_seen, last_seen, polls, last_offered, note)
      VALUES (@device, @board, @channel, @version, @sequence, @address, @userAgent, @freeSpace, @sketchMd5, @at, @at, 1, @offered, @note)`)
    this.updateDevice = db.prepare(`UPDATE devices SET
      board = @board, channel = @channel, version = @version, sequence = @sequence, address = @address,
      user_agent = @userAgent, free_space = COALESCE(@freeSpace, free_space), sketch_md5 = COALESCE(@sketchMd5, sketch_md5),
      last_seen = @at, polls = polls + 1, last_offered = @offered, note = @note
      WHERE device = @device`)
    this.insertHistory = db.prepare(
      'INSERT INTO device_history (device, board, channel, version, sequence, at) VALUES (@device, @board, @channel, @version, @sequence, @at)'
    )
    this.releaseByVersion = db.prepare('SELECT id FROM releases WHERE board = ? AND version = ?')
    this.markBooted = db.prepare(
      'UPDATE device_releases SET booted_at = ? WHERE release_id = ? AND device = ? AND booted_at IS NULL'
    )
    // Served by the partial index device_releases_taken: usually no row at all.
    this.takenFrom = db.prepare(`SELECT release_id FROM device_releases
      WHERE device = ? AND from_version = ? AND rolled_back_at IS NULL
        AND (downloaded_at IS NOT NULL OR installed_at IS NOT NULL OR booted_at IS NOT NULL)`)
    this.markSilentRollback = db.prepare(
      'UPDATE device_releases SET rolled_back_at = ?, rollback_silent = 1 WHERE release_id = ? AND device = ?'
    )
    // An offer of the version the device already runs is no offer: nothing to track.
    this.recordOffer = db.prepare(`INSERT INTO device_releases (release_id, device, from_version, from_sequence, offered_at, downloaded_at)
      SELECT id, @device, @version, @sequence, @at, @downloadedAt FROM releases WHERE id = @offered AND NOT (board = @board AND version = @version)
      ON CONFLICT (release_id, device) DO UPDATE SET
        offered_at = COALESCE(offered_at, excluded.offered_at),
        downloaded_at = COALESCE(downloaded_at, excluded.downloaded_at)`)
    this.legacyPoll = db.prepare(`INSERT INTO legacy_clients (address, user_agent, first_seen, last_seen, polls) VALUES (?, ?, ?, ?, 1)
      ON CONFLICT (address, user_agent) DO UPDATE SET last_seen = excluded.last_seen, polls = polls + 1`)
    this.checkInTx = db.transaction((c: CheckIn) => this.applyCheckIn(c))
  }

  /**
   * Records a poll: the device row, a history row when what it runs changed, and where it stands
   * with the releases it was offered (offered, downloaded, seen running, silently rolled back).
   */
  async checkIn(c: CheckIn): Promise<void> {
    this.checkInTx(c)
  }

  /** Counts a poll of the field fleet's /firmware.json, which names no device. */
  async recordLegacyPoll(address: string, userAgent: string): Promise<void> {
    const at = Date.now()
    this.legacyPoll.run(address, userAgent, at, at)
  }

  private applyCheckIn(c: CheckIn): void {
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
      at,
    }
    const prev = this.previous.get(c.device)
    if (!prev) {
      this.insertDevice.run(row)
      this.insertHistory.run(row)
    } else {
      this.updateDevice.run(row)
      const changed =
        prev.version !== c.version || prev.sequence !== c.sequence || prev.board !== c.board || prev.channel !== c.channel
      if (changed) {
        this.insertHistory.run(row)
        // Seen running a release it was offered (or reported about): the update succeeded.
        const running = this.releaseByVersion.get(c.board, c.version)
        if (running) this.markBooted.run(at, running.id, c.device)
      }
      // Back on the version it left after taking a release: a rollback, said or not. Probed
      // before this answer's own delivery is recorded, so only an earlier download counts.
      for (const taken of this.takenFrom.all(c.device, c.version)) {
        this.markSilentRollback.run(at, taken.release_id, c.device)
      }
    }
    if (c.offeredReleaseId !== null && (prev?.last_offered !== c.offeredReleaseId || c.delivered)) {
      this.recordOffer.run({ ...row, downloadedAt: c.delivered ? at : null })
    }
  }
}
