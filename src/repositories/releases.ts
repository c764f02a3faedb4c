import type { Database, Statement } from 'better-sqlite3'
import type { AuditRepository } from './audit'
import { prepareFactoryImageInsert, type NewFactoryImage } from './factory-images'
import type { RolloutPlansRepository } from './rollout-plans'
import type { RolloutStart } from './rollout-rows'
import { startRollout } from './rollouts'

export type Provenance = 'verified' | 'attested' | 'imported'

/** A row of the releases table. `sha256`, `size`, `md5` are null for an imported historical release. */
export interface Release {
  id: number
  board: string
  channel: string
  version: string
  sequence: number
  sha256: string | null
  size: number | null
  md5: string | null
  tag: string
  commit_sha: string
  signature: string | null
  key_id: string | null
  provenance: Provenance
  chip: string | null
  project_name: string | null
  app_version: string | null
  idf_version: string | null
  secure_version: number | null
  build_date: string | null
  build_time: string | null
  notes: string | null
  published_by: string | null
  created_at: number
}

export type NewRelease = Omit<Release, 'id' | 'created_at'> & { created_at?: number }

export type ReleaseConflictCode = 'sequence_not_increasing' | 'version_exists' | 'tag_exists' | 'binary_exists' | 'version_in_field'

/** A release that cannot be recorded because of what is already there; the route answers 409 with `code`. */
export class ReleaseConflict extends Error {
  constructor(readonly code: ReleaseConflictCode, message: string) {
    super(message)
    this.name = 'ReleaseConflict'
  }
}

/** Every column of `releases` a new row sets. */
export const RELEASE_COLUMNS = [
  'board', 'channel', 'version', 'sequence', 'sha256', 'size', 'md5', 'tag', 'commit_sha', 'signature', 'key_id',
  'provenance', 'chip', 'project_name', 'app_version', 'idf_version', 'secure_version', 'build_date', 'build_time',
  'notes', 'published_by', 'created_at',
] as const

export interface InsertOptions {
  fieldSeenSince?: number
  onlyVerified?: boolean
  factory?: NewFactoryImage
  /** how the release's rollout starts (a release with a binary always has one) */
  rollout: RolloutStart
}

/** SQL counting devices of a board seen since a time that run a version no release of the board has: board, version, since. */
export const VERSION_IN_FIELD = (onlyVerified: boolean, [board, version, since]: [string, string, string]) =>
  `SELECT COUNT(*) AS n FROM devices d WHERE d.board = ${board} AND d.version = ${version} AND d.last_seen >= ${since}
     ${onlyVerified ? 'AND d.verified = 1' : ''}
     AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.board = d.board AND r.version = d.version)`

export function sequenceConflict(r: NewRelease, highest: number): ReleaseConflict {
  return new ReleaseConflict(
    'sequence_not_increasing',
    `sequence ${r.sequence} is not above ${highest}, the highest sequence of board ${r.board}: publish with sequence ${highest + 1} or higher (and sign the statement again)`
  )
}

export function fieldConflict(r: NewRelease, n: number): ReleaseConflict {
  return new ReleaseConflict(
    'version_in_field',
    `${n} device(s) of board ${r.board} already report running a version named ${r.version} that is not this release, so they would never take it: choose another version name`
  )
}

/** The conflict a UNIQUE column of releases means, naming the release `other` in the way. */
export function uniqueConflict(column: 'version' | 'tag' | 'sha256', r: NewRelease, other: { version: string; sequence: number } | undefined): ReleaseConflict {
  if (column === 'version') {
    return new ReleaseConflict('version_exists', `board ${r.board} already has a release named ${r.version} (sequence ${other?.sequence}): choose another version name`)
  }
  if (column === 'tag') {
    return new ReleaseConflict('tag_exists', `tag ${r.tag} is already release ${other?.version} of board ${r.board}: tag the new build with a new tag`)
  }
  return new ReleaseConflict('binary_exists', `this binary (${r.sha256}) is already release ${other?.version} of board ${r.board}: a new release needs a new build`)
}

export class ReleasesRepository {
  private readonly insertTx: (release: NewRelease, options: InsertOptions) => Release

  // Devices' polls look releases up by version and by MD5 (Arduino): prepared once.
  private readonly byVersion: Statement
  private readonly byMd5: Statement
  private readonly bySha256: Statement

  constructor(
    private readonly db: Database,
    audit: AuditRepository,
    private readonly plans: RolloutPlansRepository
  ) {
    this.byVersion = db.prepare('SELECT * FROM releases WHERE board = ? AND version = ?')
    this.byMd5 = db.prepare('SELECT * FROM releases WHERE board = ? AND md5 = ? ORDER BY sequence DESC LIMIT 1')
    this.bySha256 = db.prepare('SELECT * FROM releases WHERE board = ? AND sha256 = ?')
    const insert = db.prepare(`INSERT INTO releases (${RELEASE_COLUMNS.join(', ')}) VALUES (${RELEASE_COLUMNS.map((c) => '@' + c).join(', ')})`)
    // The checks and the insert run in one synchronous IMMEDIATE transaction: two publishes racing
    // for the same board cannot both pass, even from two processes sharing the database.
    // No constraint can say "above the highest sequence", so that one is checked here; version,
    // tag and binary are left to the UNIQUE constraints.
    const insertFactory = prepareFactoryImageInsert(db)
    const tx = db.transaction((release: NewRelease, options: InsertOptions): Release => {
      this.assertSequenceIncreases(release)
      this.assertVersionNotInField(release, options.fieldSeenSince ?? 0, options.onlyVerified ?? false)
      const row = { ...release, created_at: release.created_at ?? Date.now() }
      let recorded: Release
      try {
        recorded = { ...row, id: Number(insert.run(row).lastInsertRowid) }
      } catch (err) {
        throw this.conflictFrom(err, release) ?? err
      }
      if (options.factory) insertFactory(recorded.id, options.factory, row.created_at)
      if (recorded.sha256 !== null) startRollout(db, audit, recorded, options.rollout)
      return recorded
    })
    this.insertTx = (release, options) => {
      try {
        return tx.immediate(release, options)
      } finally {
        this.plans.changed()
      }
    }
  }

  /**
   * Records a release. Throws ReleaseConflict when its sequence is not above every sequence of the
   * board, or its version, tag or binary is already a release of the board, or devices of the board
   * seen since `options.fieldSeenSince` (ms; default: ever) report its version (only devices that
   * proved who they are, with `options.onlyVerified`). `options.factory` and the rollout of a
   * release with a binary (`options.rollout`) are recorded with it, in the same transaction.
   */
  async insert(release: NewRelease, options: InsertOptions): Promise<Release> {
    return this.insertTx(release, options)
  }

  private assertSequenceIncreases(r: NewRelease): void {
    const highest = this.maxSequenceSync(r.board)
    if (highest !== null && r.sequence <= highest) throw sequenceConflict(r, highest)
  }

  private assertVersionNotInField(r: NewRelease, seenSince: number, onlyVerified: boolean): void {
    // Devices running a release of that name are the version_exists case, reported by the insert.
    const { n } = this.db
      .prepare(VERSION_IN_FIELD(onlyVerified, ['?', '?', '?']))
      .get(r.board, r.version, seenSince) as { n: number }
    if (n > 0) throw fieldConflict(r, n)
  }

  /** Turns the UNIQUE constraint the insert hit into the conflict it means, naming the release in the way. */
  private conflictFrom(err: unknown, r: NewRelease): ReleaseConflict | undefined {
    const message = (err as Error).message
    const column = (['version', 'tag', 'sha256'] as const).find((c) => message.includes(`releases.${c}`))
    if (!column) return undefined
    const other = this.db.prepare(`SELECT version, sequence FROM releases WHERE board = ? AND ${column} = ?`).get(r.board, r[column]) as
      | { version: string; sequence: number }
      | undefined
    return uniqueConflict(column, r, other)
  }

  async get(board: string, version: string): Promise<Release | undefined> {
    return this.byVersion.get(board, version) as Release | undefined
  }

  /** The newest release of the board whose binary has this MD5 (what an Arduino sketch reports). */
  async getByMd5(board: string, md5: string): Promise<Release | undefined> {
    return this.byMd5.get(board, md5) as Release | undefined
  }

  /** The release of the board whose binary has this SHA-256 (what a delta-capable device says it runs). */
  async getBySha256(board: string, sha256: string): Promise<Release | undefined> {
    return this.bySha256.get(board, sha256) as Release | undefined
  }

  async getById(id: number): Promise<Release | undefined> {
    return this.db.prepare('SELECT * FROM releases WHERE id = ?').get(id) as Release | undefined
  }

  /** Releases, newest (highest sequence) first, optionally of one board and/or channel. */
  async list(filter: { board?: string; channel?: string } = {}): Promise<Release[]> {
    return this.db
      .prepare(
        `SELECT * FROM releases
          WHERE (@board IS NULL OR board = @board) AND (@channel IS NULL OR channel = @channel)
          ORDER BY sequence DESC, id DESC`
      )
      .all({ board: filter.board ?? null, channel: filter.channel ?? null }) as Release[]
  }

  /** The release with the highest sequence on the board and channel that has a binary to serve. */
  async latest(board: string, channel: string): Promise<Release | undefined> {
    return this.db
      .prepare('SELECT * FROM releases WHERE board = ? AND channel = ? AND sha256 IS NOT NULL ORDER BY sequence DESC LIMIT 1')
      .get(board, channel) as Release | undefined
  }

  /** The highest sequence of any release of the board (any channel, with or without binary), or null. */
  async maxSequence(board: string): Promise<number | null> {
    return this.maxSequenceSync(board)
  }

  private maxSequenceSync(board: string): number | null {
    const row = this.db.prepare('SELECT MAX(sequence) AS max FROM releases WHERE board = ?').get(board) as { max: number | null }
    return row.max
  }
}

// The API rendering lives with the other schemas; re-exported here so callers find it with the type.
export { releaseView, ReleaseView } from '../schemas/release'
