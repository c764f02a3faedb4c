import type pg from 'pg'
import type { Clock } from '../../clock'
import { all, changes, one, uniqueViolation } from '../../db/postgres'
import type { StoredArtifact } from '../../store/artifact-store'
import { RELEASE_NAMES, type ArtifactRow, type ArtifactsRepository } from '../artifacts'
import { BoardExists, type Board, type BoardsRepository } from '../boards'
import { ReleaseKeyExists, type ReleaseKey, type ReleaseKeysRepository } from '../release-keys'
import type { Shape } from '../shape'
import { BoundedCache } from '../bounded-cache'

// Boards, artifacts and release keys: the catalogue releases are built from.

export class PgBoardsRepository implements Shape<BoardsRepository> {
  constructor(private readonly pool: pg.Pool,
    private readonly clock: Clock) {}

  async get(name: string): Promise<Board | undefined> {
    return one(this.pool, 'SELECT * FROM boards WHERE name = $1', [name])
  }

  async list(): Promise<Board[]> {
    return all(this.pool, 'SELECT * FROM boards ORDER BY name')
  }

  async add(board: Omit<Board, 'created_at' | 'delta_enabled'>): Promise<Board> {
    const created = { ...board, delta_enabled: 1, created_at: this.clock.now() }
    try {
      await this.pool.query('INSERT INTO boards (name, chip, chip_id, slot_size, created_at) VALUES ($1, $2, $3, $4, $5)', [
        created.name,
        created.chip,
        created.chip_id,
        created.slot_size,
        created.created_at,
      ])
    } catch (err) {
      if (uniqueViolation(err) !== undefined) throw new BoardExists(`board ${board.name} already exists`)
      throw err
    }
    return created
  }
}

export class PgArtifactsRepository implements Shape<ArtifactsRepository> {
  private readonly found = new BoundedCache<string, ArtifactRow>()
  private readonly released = new BoundedCache<string, true>()

  constructor(private readonly pool: pg.Pool,
    private readonly clock: Clock) {}

  changed(): void {
    this.found.clear()
  }

  async get(sha256: string): Promise<ArtifactRow | undefined> {
    const held = this.found.get(sha256)
    if (held) return held
    const row = await one<ArtifactRow>(this.pool, 'SELECT sha256, md5, size, created_at FROM artifacts WHERE sha256 = $1', [sha256])
    if (row) this.found.set(sha256, Object.freeze(row))
    return row
  }

  async isReleased(sha256: string): Promise<boolean> {
    if (this.released.get(sha256)) return true
    if (!(await one(this.pool, `SELECT 1 AS one WHERE ${RELEASE_NAMES('$1')}`, [sha256]))) return false
    this.released.set(sha256, true)
    return true
  }

  async record(artifact: StoredArtifact): Promise<ArtifactRow> {
    await this.pool.query('INSERT INTO artifacts (sha256, md5, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING', [
      artifact.sha256,
      artifact.md5,
      artifact.size,
      this.clock.now(),
    ])
    return (await this.get(artifact.sha256)) as ArtifactRow
  }

  async unreleased(before: number): Promise<ArtifactRow[]> {
    return all(
      this.pool,
      `SELECT a.sha256, a.md5, a.size, a.created_at FROM artifacts a
       WHERE a.created_at < $1 AND NOT ${RELEASE_NAMES('a.sha256')} ORDER BY a.created_at, a.sha256`,
      [before]
    )
  }

  async forgetUnreleased(sha256: string): Promise<boolean> {
    const n = await changes(this.pool, `DELETE FROM artifacts WHERE sha256 = $1 AND NOT ${RELEASE_NAMES('$1')}`, [sha256])
    if (n > 0) this.found.delete(sha256)
    return n > 0
  }
}

export class PgReleaseKeysRepository implements Shape<ReleaseKeysRepository> {
  constructor(private readonly pool: pg.Pool,
    private readonly clock: Clock) {}

  async trust(key: { key_id: string; name: string; public_key_pem: string }): Promise<ReleaseKey> {
    const row: ReleaseKey = { ...key, created_at: this.clock.now(), retired_at: null }
    try {
      await this.pool.query('INSERT INTO release_keys (key_id, name, public_key_pem, created_at) VALUES ($1, $2, $3, $4)', [
        row.key_id,
        row.name,
        row.public_key_pem,
        row.created_at,
      ])
    } catch (err) {
      if (uniqueViolation(err) !== undefined) throw new ReleaseKeyExists((await this.get(key.key_id)) as ReleaseKey)
      throw err
    }
    return row
  }

  async get(keyId: string): Promise<ReleaseKey | undefined> {
    return one(this.pool, 'SELECT * FROM release_keys WHERE key_id = $1', [keyId])
  }

  async list(): Promise<ReleaseKey[]> {
    return all(this.pool, 'SELECT * FROM release_keys ORDER BY created_at, key_id')
  }

  async retire(keyId: string): Promise<ReleaseKey | undefined> {
    await this.pool.query('UPDATE release_keys SET retired_at = $1 WHERE key_id = $2 AND retired_at IS NULL', [this.clock.now(), keyId])
    return this.get(keyId)
  }
}
