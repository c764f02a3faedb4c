import type pg from 'pg'
import { all, one, transaction, uniqueViolation, type Queryable } from '../../db/postgres'
import { FACTORY_IMAGE_COLUMNS, type FactoryImage, type FactoryImagesRepository, type NewFactoryImage } from '../factory-images'
import { HistoryConflict, type HistoricalReleaseRow, type ReleaseHistoryRepository } from '../release-history'
import {
  RELEASE_COLUMNS,
  VERSION_IN_FIELD,
  fieldConflict,
  sequenceConflict,
  uniqueConflict,
  type InsertOptions,
  type NewRelease,
  type Release,
  type ReleasesRepository,
} from '../releases'
import type { RolloutStart } from '../rollout-rows'
import type { Shape } from '../shape'
import type { PgRolloutPlansRepository } from './rollouts'
import { pgStartRollout } from './rollouts'

const placeholders = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ')

/** Inserts a release row on `q` and returns it. */
async function insertRelease(q: Queryable, row: NewRelease & { created_at: number }): Promise<Release> {
  return (await one<Release>(
    q,
    `INSERT INTO releases (${RELEASE_COLUMNS.join(', ')}) VALUES (${placeholders(RELEASE_COLUMNS.length)}) RETURNING *`,
    RELEASE_COLUMNS.map((c) => row[c])
  )) as Release
}

/** Releases of one board are written one at a time: the checks and the insert see the same rows. */
async function lockBoard(q: Queryable, board: string): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ota-gate releases of ${board}`])
}

const UNIQUE_COLUMN: Record<string, 'version' | 'tag' | 'sha256'> = {
  releases_board_version: 'version',
  releases_board_tag: 'tag',
  releases_board_binary: 'sha256',
}

export class PgReleasesRepository implements Shape<ReleasesRepository> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly plans: PgRolloutPlansRepository
  ) {}

  async insert(release: NewRelease, options: InsertOptions): Promise<Release> {
    try {
      return await transaction(this.pool, async (q) => {
        await lockBoard(q, release.board)
        const highest = await this.highest(q, release.board)
        if (highest !== null && release.sequence <= highest) throw sequenceConflict(release, highest)
        const field = await one<{ n: number }>(q, VERSION_IN_FIELD(options.onlyVerified ?? false, ['$1', '$2', '$3']), [
          release.board,
          release.version,
          options.fieldSeenSince ?? 0,
        ])
        if (field && field.n > 0) throw fieldConflict(release, field.n)
        const row = { ...release, created_at: release.created_at ?? Date.now() }
        let recorded: Release
        try {
          await q.query('SAVEPOINT insert_release')
          recorded = await insertRelease(q, row)
        } catch (err) {
          const column = UNIQUE_COLUMN[uniqueViolation(err) ?? '']
          if (!column) throw err
          await q.query('ROLLBACK TO SAVEPOINT insert_release')
          const other = await one<{ version: string; sequence: number }>(
            q,
            `SELECT version, sequence FROM releases WHERE board = $1 AND ${column} = $2`,
            [release.board, release[column]]
          )
          throw uniqueConflict(column, release, other)
        }
        if (options.factory) await pgInsertFactoryImage(q, recorded.id, options.factory, row.created_at)
        if (recorded.sha256 !== null) await pgStartRollout(q, recorded, options.rollout)
        return recorded
      })
    } finally {
      this.plans.changed()
    }
  }

  async get(board: string, version: string): Promise<Release | undefined> {
    return one(this.pool, 'SELECT * FROM releases WHERE board = $1 AND version = $2', [board, version])
  }

  async getByMd5(board: string, md5: string): Promise<Release | undefined> {
    return one(this.pool, 'SELECT * FROM releases WHERE board = $1 AND md5 = $2 ORDER BY sequence DESC LIMIT 1', [board, md5])
  }

  async getBySha256(board: string, sha256: string): Promise<Release | undefined> {
    return one(this.pool, 'SELECT * FROM releases WHERE board = $1 AND sha256 = $2', [board, sha256])
  }

  async getById(id: number): Promise<Release | undefined> {
    return one(this.pool, 'SELECT * FROM releases WHERE id = $1', [id])
  }

  async list(filter: { board?: string; channel?: string } = {}): Promise<Release[]> {
    return all(
      this.pool,
      `SELECT * FROM releases WHERE ($1::text IS NULL OR board = $1) AND ($2::text IS NULL OR channel = $2) ORDER BY sequence DESC, id DESC`,
      [filter.board ?? null, filter.channel ?? null]
    )
  }

  async latest(board: string, channel: string): Promise<Release | undefined> {
    return one(this.pool, 'SELECT * FROM releases WHERE board = $1 AND channel = $2 AND sha256 IS NOT NULL ORDER BY sequence DESC LIMIT 1', [
      board,
      channel,
    ])
  }

  async maxSequence(board: string): Promise<number | null> {
    return this.highest(this.pool, board)
  }

  private async highest(q: Queryable, board: string): Promise<number | null> {
    return ((await one<{ max: number | null }>(q, 'SELECT MAX(sequence) AS max FROM releases WHERE board = $1', [board])) as { max: number | null }).max
  }
}

export async function pgInsertFactoryImage(q: Queryable, releaseId: number, image: NewFactoryImage, at: number): Promise<FactoryImage> {
  const row: FactoryImage = { ...image, release_id: releaseId, created_at: at }
  await q.query(
    `INSERT INTO factory_images (${FACTORY_IMAGE_COLUMNS.join(', ')}) VALUES (${placeholders(FACTORY_IMAGE_COLUMNS.length)})`,
    FACTORY_IMAGE_COLUMNS.map((c) => row[c])
  )
  return row
}

export class PgFactoryImagesRepository implements Shape<FactoryImagesRepository> {
  constructor(private readonly pool: pg.Pool) {}

  async ofRelease(releaseId: number): Promise<FactoryImage | undefined> {
    return one(this.pool, 'SELECT * FROM factory_images WHERE release_id = $1', [releaseId])
  }

  async withDigest(sha256: string): Promise<FactoryImage | undefined> {
    return one(this.pool, 'SELECT * FROM factory_images WHERE sha256 = $1 LIMIT 1', [sha256])
  }

  async upTo(board: string, channel: string, sequence: number): Promise<FactoryImage[]> {
    return all(
      this.pool,
      `SELECT f.* FROM factory_images f JOIN releases r ON r.id = f.release_id
       WHERE r.board = $1 AND r.channel = $2 AND r.sequence <= $3 ORDER BY r.sequence DESC`,
      [board, channel, sequence]
    )
  }

  async byReleaseId(board?: string): Promise<Map<number, FactoryImage>> {
    const rows = await all<FactoryImage>(
      this.pool,
      'SELECT f.* FROM factory_images f JOIN releases r ON r.id = f.release_id WHERE ($1::text IS NULL OR r.board = $1)',
      [board ?? null]
    )
    return new Map(rows.map((f) => [f.release_id, f]))
  }
}

export class PgReleaseHistoryRepository implements Shape<ReleaseHistoryRepository> {
  constructor(
    private readonly pool: pg.Pool,
    private readonly plans: PgRolloutPlansRepository
  ) {}

  async recordCurrent(release: NewRelease, historicalId: number | undefined, rollout: RolloutStart): Promise<Release> {
    const row = { ...release, created_at: release.created_at ?? Date.now() }
    try {
      return await transaction(this.pool, async (q) => {
        await lockBoard(q, release.board)
        let recorded: Release | undefined
        if (historicalId === undefined) recorded = await insertRelease(q, row)
        else {
          const changed = RELEASE_COLUMNS.filter((c) => !['board', 'channel', 'version', 'sequence', 'tag', 'commit_sha', 'created_at'].includes(c))
          recorded = await one<Release>(
            q,
            `UPDATE releases SET ${changed.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1 AND sha256 IS NULL RETURNING *`,
            [historicalId, ...changed.map((c) => row[c])]
          )
          if (!recorded) throw new HistoryConflict(`release ${release.version} changed meanwhile`)
        }
        await pgStartRollout(q, recorded, rollout)
        return recorded
      })
    } catch (err) {
      if (uniqueViolation(err) !== undefined) {
        throw new HistoryConflict(`a release with the same version, sequence, tag or binary is already recorded (${(err as Error).message})`)
      }
      throw err
    } finally {
      this.plans.changed()
    }
  }

  async record(rows: HistoricalReleaseRow[], importedBy: string): Promise<void> {
    try {
      await transaction(this.pool, async (q) => {
        const createdAt = Date.now()
        for (const row of rows) {
          await q.query(
            `INSERT INTO releases (board, channel, version, sequence, tag, commit_sha, provenance, published_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'imported', $7, $8)`,
            [row.board, row.channel, row.version, row.sequence, row.tag, row.commit, importedBy, createdAt]
          )
        }
      })
    } catch (err) {
      if (uniqueViolation(err) !== undefined) {
        throw new HistoryConflict(`a release was recorded meanwhile with the same version, sequence or tag (${(err as Error).message})`)
      }
      throw err
    } finally {
      this.plans.changed()
    }
  }
}
