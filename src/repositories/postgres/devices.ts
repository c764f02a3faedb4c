import type pg from 'pg'
import type { Clock } from '../../clock'
import { all, changes, one, transaction, unnestRows, type ArrayType, type Queryable } from '../../db/postgres'
import { PgGroupCommit } from '../../db/pg-group-commit'
import {
  REPORTS_KEPT,
  REPORT_COLUMN,
  type CheckIn,
  type CheckInRow,
  checkInRow,
  type Report,
  SetbackListeners,
  type SetbackListener,
} from '../device-rows'
import type { DevicesRepository, RefreshFailureListener } from '../devices'
import type { Shape } from '../shape'

interface PreviousDevice {
  board: string
  channel: string
  version: string
  sequence: number
  last_offered: number | null
  verified: number
}

/** A check-in of a batch with its time fixed, and what the database held about its device before. */
interface Arrival {
  index: number
  c: CheckIn
  at: number
}

/** The columns a check-in writes to its device's row (checkInRow), as `unnestRows` takes them. */
const SEEN_COLUMNS: Record<keyof CheckInRow, ArrayType> = {
  device: 'text',
  board: 'text',
  channel: 'text',
  version: 'text',
  sequence: 'bigint',
  address: 'text',
  user_agent: 'text',
  free_space: 'bigint',
  sketch_md5: 'text',
  at: 'bigint',
  last_offered: 'bigint',
  note: 'text',
  running_sha256: 'text',
  verified: 'integer',
}

const seenRow = ({ c, at }: Arrival): CheckInRow => checkInRow(c, at)

/**
 * The check-ins of a batch in rounds: the first check-in of each device, then the second of the
 * devices that sent two, and so on; a round names each device once, so a multi-row statement never
 * touches one row twice, and a later check-in of a device sees what its earlier one wrote.
 */
function rounds(batch: CheckIn[], now: () => number): Arrival[][] {
  const out: Arrival[][] = []
  const seen = new Map<string, number>()
  batch.forEach((c, index) => {
    const n = seen.get(c.device) ?? 0
    seen.set(c.device, n + 1)
    ;(out[n] ??= []).push({ index, c, at: c.at ?? now() })
  })
  return out
}

const PREVIOUS_COLUMNS = 'board, channel, version, sequence, last_offered, verified'

/** Devices' rows as a batch's first statement read them. */
type Known = Map<string, PreviousDevice>

const ACCEPTED_KEY = "EXISTS (SELECT 1 FROM device_keys WHERE device = $1 AND state = 'accepted')"

/**
 * Device check-ins and reports on PostgreSQL: the same rows as DevicesRepository writes, each
 * check-in in a savepoint of a transaction shared with the check-ins that arrived meanwhile,
 * committed before the caller answers.
 */
export class PgDevicesRepository implements Shape<DevicesRepository> {
  private readonly checkIns: PgGroupCommit<CheckIn, number[], Known>
  private readonly setbackListeners = new SetbackListeners()

  constructor(private readonly pool: pg.Pool,
    private readonly clock: Clock) {
    this.checkIns = new PgGroupCommit(
      pool,
      (c) => c.device,
      (q, c) => this.applyCheckIn(q, c),
      (q, batch, known) => this.applyCheckIns(q, batch, known),
      (q, batch) => this.insertNewDevices(q, batch)
    )
  }

  /**
   * Every check-in, the ones that only refresh last_seen too, goes through the group commit and is
   * durable before the answer: under load a batch is one multi-statement transaction, so a
   * write-behind of refreshes would save little here and nothing ever waits in memory.
   */
  async checkIn(c: CheckIn): Promise<void> {
    await this.setbacks(await this.checkIns.run(c), c.verified === true)
  }

  /** Nothing waits: see checkIn. */
  flushRefreshes(): boolean {
    return true
  }

  get refreshesWaiting(): number {
    return 0
  }

  close(): boolean {
    return true
  }

  /** Never told: no refresh waits to fail (a failed check-in rejects its poll instead). */
  onRefreshFailure(_listener: RefreshFailureListener): void {}

  onSetback(listener: SetbackListener): void {
    this.setbackListeners.add(listener)
  }

  private async setbacks(releaseIds: number[], verified: boolean): Promise<void> {
    await this.setbackListeners.tell(releaseIds, verified)
  }

  async recordLegacyPoll(address: string, userAgent: string): Promise<void> {
    const at = this.clock.now()
    await this.pool.query(
      `INSERT INTO legacy_clients AS l (address, user_agent, first_seen, last_seen, polls) VALUES ($1, $2, $3, $3, 1)
       ON CONFLICT (address, user_agent) DO UPDATE SET last_seen = excluded.last_seen, polls = l.polls + 1`,
      [address, userAgent, at]
    )
  }

  async report(r: Report): Promise<boolean> {
    const { known, setback } = await transaction(this.pool, (q) => this.applyReport(q, r))
    if (setback !== null) await this.setbacks([setback], r.verified === true)
    return known
  }

  private async applyReport(q: Queryable, r: Report): Promise<{ known: boolean; setback: number | null }> {
    const at = r.at ?? this.clock.now()
    const current = await one<{ board: string; version: string; verified: number }>(
      q,
      'SELECT board, version, verified FROM devices WHERE device = $1 FOR UPDATE',
      [r.device]
    )
    if (!current) return { known: false, setback: null }
    await this.standing(q, r.device, current.verified, r.verified)
    const release = await one<{ id: number }>(q, 'SELECT id FROM releases WHERE board = $1 AND version = $2', [current.board, r.version])
    await q.query(
      'INSERT INTO reports (device, status, version, sequence, detail, release_id, verified, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [r.device, r.status, r.version, r.sequence, r.detail, release?.id ?? null, r.verified ? 1 : 0, at]
    )
    await q.query(
      `DELETE FROM reports WHERE device = $1
       AND id <= (SELECT id FROM reports WHERE device = $1 ORDER BY id DESC LIMIT 1 OFFSET ${REPORTS_KEPT})`,
      [r.device]
    )
    if (release) {
      // '' matches no version: a device never seen on anything else has no version to fall back to.
      const fromVersion =
        current.version !== r.version
          ? current.version
          : ((await one<{ version: string }>(q, 'SELECT version FROM device_history WHERE device = $1 AND version <> $2 ORDER BY id DESC LIMIT 1', [
              r.device,
              r.version,
            ]))?.version ?? '')
      const seq =
        (await one<{ sequence: number }>(q, 'SELECT sequence FROM device_history WHERE device = $1 AND version = $2 ORDER BY id DESC LIMIT 1', [
          r.device,
          fromVersion,
        ]))?.sequence ?? 0
      const column = REPORT_COLUMN[r.status]
      await q.query(
        `INSERT INTO device_releases AS dr (release_id, device, from_version, from_sequence, ${column}) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (release_id, device) DO UPDATE SET ${column} = COALESCE(dr.${column}, excluded.${column})
         ${r.status === 'rolled_back' ? ', rollback_silent = 0' : ''}`,
        [release.id, r.device, fromVersion, seq, at]
      )
    }
    const setback = release && (r.status === 'failed' || r.status === 'rolled_back') ? release.id : null
    return { known: true, setback }
  }

  /** As DevicesRepository.standing. */
  private async standing(q: Queryable, device: string, was: number, verified: boolean | undefined): Promise<boolean> {
    if (verified === undefined || was === (verified ? 1 : 0)) return false
    if (!verified) {
      await q.query('UPDATE devices SET verified = 0 WHERE device = $1', [device])
      return false
    }
    if ((await changes(q, `UPDATE devices SET verified = 1 WHERE device = $1 AND ${ACCEPTED_KEY}`, [device])) === 0) return false
    await q.query('DELETE FROM device_releases WHERE device = $1', [device])
    return true
  }

  /**
   * A batch of check-ins in a few multi-row statements a round (see `rounds`): new devices in one
   * INSERT … ON CONFLICT, refreshes of devices whose version and standing stay in one UPDATE, their
   * offers in one upsert. A check-in that changes its device's version or standing, or whose device
   * another instance inserted meanwhile, goes through applyCheckIn, as alone.
   */
  private async applyCheckIns(q: Queryable, batch: CheckIn[], known?: Known): Promise<number[][]> {
    const results: number[][] = batch.map(() => [])
    for (const [n, round] of rounds(batch, () => this.clock.now()).entries()) {
      const prev =
        n === 0 && known !== undefined && round.every((a) => known.has(a.c.device))
          ? known
          : new Map(
              (
                await all<PreviousDevice & { device: string }>(
                  q,
                  { name: 'check-ins-previous', text: `SELECT device, ${PREVIOUS_COLUMNS} FROM devices WHERE device = ANY($1::text[])` },
                  [round.map((a) => a.c.device)]
                )
              ).map((p) => [p.device, p])
            )
      const fresh = round.filter((a) => !prev.has(a.c.device))
      const refreshed = round.filter(({ c }) => {
        const p = prev.get(c.device)
        return (
          p !== undefined &&
          (c.verified === undefined || p.verified === (c.verified ? 1 : 0)) &&
          p.version === c.version &&
          p.sequence === c.sequence &&
          p.board === c.board &&
          p.channel === c.channel
        )
      })
      const inserted = await this.insertDevices(q, fresh)
      await this.refreshDevices(q, refreshed, results)
      const offered = [
        ...fresh.filter((a) => inserted.has(a.c.device)),
        ...refreshed.filter(({ c }) => prev.get(c.device)?.last_offered !== c.offeredReleaseId || c.delivered),
      ].filter(({ c }) => c.offeredReleaseId !== null)
      await this.recordOffers(q, offered)
      await this.recordDeltas(
        q,
        [...fresh.filter((a) => inserted.has(a.c.device)), ...refreshed].filter(({ c }) => c.offeredReleaseId !== null && c.delta)
      )
      const handled = new Set([...inserted, ...refreshed.map((a) => a.c.device)])
      for (const a of round) if (!handled.has(a.c.device)) results[a.index] = await this.applyCheckIn(q, a.c)
    }
    return results
  }

  /**
   * One statement, committed on its own: the devices of the batch never seen before, their first
   * history rows and their offers, and the previous rows of the others, which the transaction
   * then needs not read again. A batch of new devices is one round trip (it was eight: BEGIN,
   * savepoint, the read, three inserts, release, COMMIT). Left to the transaction: a device's later
   * check-ins of the batch, delta offers, and devices another instance inserted meanwhile.
   */
  private async insertNewDevices(q: Queryable, batch: CheckIn[]): Promise<{ answers: Array<number[] | undefined>; learnt: Known }> {
    const first = (rounds(batch, () => this.clock.now())[0] ?? []).filter(({ c }) => !c.delta)
    if (first.length === 0) return { answers: batch.map(() => undefined), learnt: new Map() }
    const v = unnestRows(
      'v',
      { ...SEEN_COLUMNS, downloaded_at: 'bigint' },
      first.map((a) => ({ ...seenRow(a), downloaded_at: a.c.delivered ? a.at : null }))
    )
    // The sub-statements see one snapshot: `prev` is the rows as they were before `ins`. The
    // offers' foreign key to devices is checked at the statement's end, after `ins`.
    const rows = await all<PreviousDevice & { device: string; inserted: boolean }>(
      q,
      {
        name: 'check-ins-new-devices-alone',
        text: `WITH v AS (SELECT * FROM ${v.sql}),
         prev AS (SELECT device, ${PREVIOUS_COLUMNS} FROM devices WHERE device IN (SELECT device FROM v)),
         ins AS (
           INSERT INTO devices (device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, first_seen, last_seen, polls,
             last_offered, note, running_sha256, verified)
           SELECT device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, at, at, 1, last_offered, note, running_sha256,
             CASE WHEN verified = 1 AND EXISTS (SELECT 1 FROM device_keys k WHERE k.device = v.device AND k.state = 'accepted') THEN 1 ELSE 0 END
           FROM v WHERE device NOT IN (SELECT device FROM prev) ORDER BY device
           ON CONFLICT (device) DO NOTHING RETURNING device),
         history AS (
           INSERT INTO device_history (device, board, channel, version, sequence, at)
           SELECT v.device, v.board, v.channel, v.version, v.sequence, v.at FROM v JOIN ins ON ins.device = v.device),
         offers AS (
           INSERT INTO device_releases (release_id, device, from_version, from_sequence, offered_at, downloaded_at)
           SELECT r.id, v.device, v.version, v.sequence, v.at, CASE WHEN r.size > v.free_space THEN NULL ELSE v.downloaded_at END
           FROM v JOIN ins ON ins.device = v.device JOIN releases r ON r.id = v.last_offered AND NOT (r.board = v.board AND r.version = v.version)
           ORDER BY v.device)
       SELECT device, true AS inserted, NULL AS board, NULL AS channel, NULL AS version, NULL::bigint AS sequence, NULL::bigint AS last_offered,
         NULL::integer AS verified FROM ins
       UNION ALL SELECT device, false, ${PREVIOUS_COLUMNS} FROM prev`,
      },
      v.params
    )
    const inserted = new Set(rows.filter((r) => r.inserted).map((r) => r.device))
    const learnt: Known = new Map(rows.filter((r) => !r.inserted).map((r) => [r.device, r]))
    const answers = batch.map(() => undefined as number[] | undefined)
    for (const a of first) if (inserted.has(a.c.device)) answers[a.index] = []
    return { answers, learnt }
  }

  /** New devices and their first history rows; returns the devices inserted (not those another instance inserted first). */
  private async insertDevices(q: Queryable, fresh: Arrival[]): Promise<Set<string>> {
    if (fresh.length === 0) return new Set()
    const v = unnestRows('v', SEEN_COLUMNS, fresh.map(seenRow))
    // In device order: two batches that insert the same devices lock them in the same order.
    const inserted = await all<{ device: string }>(
      q,
      { name: 'check-ins-new-devices', text: `INSERT INTO devices (device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, first_seen, last_seen, polls,
         last_offered, note, running_sha256, verified)
       SELECT device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, at, at, 1, last_offered, note, running_sha256,
         CASE WHEN verified = 1 AND EXISTS (SELECT 1 FROM device_keys k WHERE k.device = v.device AND k.state = 'accepted') THEN 1 ELSE 0 END
       FROM ${v.sql} ORDER BY device
       ON CONFLICT (device) DO NOTHING RETURNING device` },
      v.params
    )
    const devices = new Set(inserted.map((r) => r.device))
    const h = unnestRows('h', SEEN_COLUMNS, fresh.filter((a) => devices.has(a.c.device)).map(seenRow))
    await all(q, { name: 'check-ins-new-history', text: `INSERT INTO device_history (device, board, channel, version, sequence, at) SELECT device, board, channel, version, sequence, at FROM ${h.sql}` }, h.params)
    return devices
  }

  /** Devices seen again on the version and standing they had: one UPDATE, and one for the rollbacks it reveals. */
  private async refreshDevices(q: Queryable, refreshed: Arrival[], results: number[][]): Promise<void> {
    if (refreshed.length === 0) return
    const v = unnestRows('v', SEEN_COLUMNS, refreshed.map(seenRow))
    await all(
      q,
      { name: 'check-ins-refresh', text: `UPDATE devices d SET address = v.address, user_agent = v.user_agent, free_space = COALESCE(v.free_space, d.free_space),
         sketch_md5 = COALESCE(v.sketch_md5, d.sketch_md5), last_seen = v.at, polls = d.polls + 1, last_offered = v.last_offered, note = v.note,
         running_sha256 = COALESCE(v.running_sha256, d.running_sha256)
       FROM ${v.sql} WHERE d.device = v.device` },
      v.params
    )
    // Back on the version it left after taking a release: a rollback, said or not (as applyCheckIn).
    const taken = await all<{ device: string; release_id: number }>(
      q,
      { name: 'check-ins-rollbacks', text: `UPDATE device_releases dr SET rolled_back_at = v.at, rollback_silent = 1 FROM ${v.sql}
       WHERE dr.device = v.device AND dr.from_version = v.version AND dr.rolled_back_at IS NULL
         AND (dr.downloaded_at IS NOT NULL OR dr.installed_at IS NOT NULL OR dr.booted_at IS NOT NULL)
       RETURNING dr.device, dr.release_id` },
      v.params
    )
    const index = new Map(refreshed.map((a) => [a.c.device, a.index]))
    for (const t of taken) results[index.get(t.device) as number].push(t.release_id)
  }

  /** As applyCheckIn's offer, for many devices in one upsert. */
  private async recordOffers(q: Queryable, offered: Arrival[]): Promise<void> {
    if (offered.length === 0) return
    const v = unnestRows(
      'v',
      { device: 'text', board: 'text', version: 'text', sequence: 'bigint', at: 'bigint', free_space: 'bigint', downloaded_at: 'bigint', release_id: 'bigint' },
      offered.map(({ c, at }) => ({
        device: c.device,
        board: c.board,
        version: c.version,
        sequence: c.sequence,
        at,
        free_space: c.freeSpace,
        downloaded_at: c.delivered ? at : null,
        release_id: c.offeredReleaseId,
      }))
    )
    await all(
      q,
      { name: 'check-ins-offers', text: `INSERT INTO device_releases AS dr (release_id, device, from_version, from_sequence, offered_at, downloaded_at)
       SELECT r.id, v.device, v.version, v.sequence, v.at, CASE WHEN r.size > v.free_space THEN NULL ELSE v.downloaded_at END
       FROM ${v.sql} JOIN releases r ON r.id = v.release_id AND NOT (r.board = v.board AND r.version = v.version)
       ORDER BY v.device
       ON CONFLICT (release_id, device) DO UPDATE SET
         offered_at = COALESCE(dr.offered_at, excluded.offered_at),
         downloaded_at = COALESCE(dr.downloaded_at, excluded.downloaded_at)` },
      v.params
    )
  }

  /** As applyCheckIn's delta patch, for many devices in one UPDATE. */
  private async recordDeltas(q: Queryable, offered: Arrival[]): Promise<void> {
    if (offered.length === 0) return
    const v = unnestRows(
      'v',
      { release_id: 'bigint', device: 'text', base: 'text', size: 'bigint' },
      offered.map(({ c }) => ({ release_id: c.offeredReleaseId, device: c.device, base: c.delta?.base, size: c.delta?.size }))
    )
    await all(
      q,
      { name: 'check-ins-deltas', text: `UPDATE device_releases dr SET delta_base = v.base, delta_size = v.size FROM ${v.sql}
       WHERE dr.release_id = v.release_id AND dr.device = v.device AND (dr.delta_base IS DISTINCT FROM v.base OR dr.delta_size IS DISTINCT FROM v.size)` },
      v.params
    )
  }

  /** As DevicesRepository.applyCheckIn; returns the releases this check-in found silently rolled back. */
  private async applyCheckIn(q: Queryable, c: CheckIn): Promise<number[]> {
    const at = c.at ?? this.clock.now()
    const prev = await one<PreviousDevice>(q, 'SELECT board, channel, version, sequence, last_offered, verified FROM devices WHERE device = $1', [c.device])
    const seen = [c.address, c.userAgent, c.freeSpace ?? null, c.sketchMd5 ?? null, at, c.offeredReleaseId, c.note ?? null, c.runningSha256 ?? null]
    const history = () =>
      q.query('INSERT INTO device_history (device, board, channel, version, sequence, at) VALUES ($1, $2, $3, $4, $5, $6)', [
        c.device,
        c.board,
        c.channel,
        c.version,
        c.sequence,
        at,
      ])
    const rolledBack: number[] = []
    let forgot = false
    if (!prev) {
      await q.query(
        `INSERT INTO devices (device, board, channel, version, sequence, address, user_agent, free_space, sketch_md5, first_seen, last_seen, polls,
           last_offered, note, running_sha256, verified)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1, $11, $12, $13, CASE WHEN $14 AND ${ACCEPTED_KEY} THEN 1 ELSE 0 END)`,
        [c.device, c.board, c.channel, c.version, c.sequence, ...seen, c.verified === true]
      )
      await history()
    } else {
      forgot = await this.standing(q, c.device, prev.verified, c.verified)
      const set = `address = $2, user_agent = $3, free_space = COALESCE($4, free_space), sketch_md5 = COALESCE($5, sketch_md5), last_seen = $6,
        polls = polls + 1, last_offered = $7, note = $8, running_sha256 = COALESCE($9, running_sha256)`
      const changed = prev.version !== c.version || prev.sequence !== c.sequence || prev.board !== c.board || prev.channel !== c.channel
      if (!changed) await q.query(`UPDATE devices SET ${set} WHERE device = $1`, [c.device, ...seen])
      else {
        await q.query(`UPDATE devices SET ${set}, board = $10, channel = $11, version = $12, sequence = $13 WHERE device = $1`, [
          c.device,
          ...seen,
          c.board,
          c.channel,
          c.version,
          c.sequence,
        ])
        await history()
        // Seen running a release it was offered (or reported about): the update succeeded.
        await q.query(
          `UPDATE device_releases SET booted_at = $1 WHERE device = $2 AND booted_at IS NULL
             AND release_id = (SELECT id FROM releases WHERE board = $3 AND version = $4)`,
          [at, c.device, c.board, c.version]
        )
      }
      // Back on the version it left after taking a release: a rollback, said or not.
      const taken = await all<{ release_id: number }>(
        q,
        `UPDATE device_releases SET rolled_back_at = $1, rollback_silent = 1
         WHERE device = $2 AND from_version = $3 AND rolled_back_at IS NULL
           AND (downloaded_at IS NOT NULL OR installed_at IS NOT NULL OR booted_at IS NOT NULL)
         RETURNING release_id`,
        [at, c.device, c.version]
      )
      rolledBack.push(...taken.map((t) => t.release_id))
    }
    if (c.offeredReleaseId !== null && (prev?.last_offered !== c.offeredReleaseId || c.delivered || forgot)) {
      // An offer of the version the device already runs is no offer; a binary larger than the free
      // OTA space is refused before download (HTTPUpdate), so not downloaded.
      await q.query(
        `INSERT INTO device_releases AS dr (release_id, device, from_version, from_sequence, offered_at, downloaded_at)
         SELECT id, $1, $2, $3, $4, CASE WHEN size > $5 THEN NULL ELSE $6::bigint END
         FROM releases WHERE id = $7 AND NOT (board = $8 AND version = $2)
         ON CONFLICT (release_id, device) DO UPDATE SET
           offered_at = COALESCE(dr.offered_at, excluded.offered_at),
           downloaded_at = COALESCE(dr.downloaded_at, excluded.downloaded_at)`,
        [c.device, c.version, c.sequence, at, c.freeSpace ?? null, c.delivered ? at : null, c.offeredReleaseId, c.board]
      )
    }
    if (c.offeredReleaseId !== null && c.delta) {
      await q.query(
        `UPDATE device_releases SET delta_base = $3, delta_size = $4
         WHERE release_id = $1 AND device = $2 AND (delta_base IS DISTINCT FROM $3 OR delta_size IS DISTINCT FROM $4)`,
        [c.offeredReleaseId, c.device, c.delta.base, c.delta.size]
      )
    }
    return rolledBack
  }
}
