import type { Database } from 'better-sqlite3'
import type { Clock } from '../clock'

export interface ReleaseKey {
  key_id: string
  name: string
  public_key_pem: string
  created_at: number
  retired_at: number | null
}

export class ReleaseKeyExists extends Error {
  override name = 'ReleaseKeyExists'
  constructor(readonly existing: ReleaseKey) {
    super(
      existing.retired_at === null
        ? `key ${existing.key_id} is already trusted, as "${existing.name}"`
        : `key ${existing.key_id} ("${existing.name}") was retired on ${new Date(existing.retired_at).toISOString()}; a retired key is not trusted again: make a new key`
    )
  }
}

/** The public keys whose signatures authorise releases; several at once, so keys can be rotated. */
export class ReleaseKeysRepository {
  constructor(private readonly db: Database,
    private readonly clock: Clock
  ) {}

  /** Trusts a key (key id and PEM as computed by src/release/keys.ts); refuses one already known. */
  async trust(key: { key_id: string; name: string; public_key_pem: string }): Promise<ReleaseKey> {
    const row: ReleaseKey = { ...key, created_at: this.clock.now(), retired_at: null }
    try {
      this.db
        .prepare('INSERT INTO release_keys (key_id, name, public_key_pem, created_at) VALUES (@key_id, @name, @public_key_pem, @created_at)')
        .run(row)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new ReleaseKeyExists((await this.get(key.key_id)) as ReleaseKey)
      }
      throw err
    }
    return row
  }

  async get(keyId: string): Promise<ReleaseKey | undefined> {
    return this.db.prepare('SELECT * FROM release_keys WHERE key_id = ?').get(keyId) as ReleaseKey | undefined
  }

  /** All keys, retired ones included, oldest first. */
  async list(): Promise<ReleaseKey[]> {
    return this.db.prepare('SELECT * FROM release_keys ORDER BY created_at, key_id').all() as ReleaseKey[]
  }

  /**
   * Retires a key: it no longer authorises new releases, while releases it signed stay valid.
   * Returns the key (with its first retirement time when it was already retired), or undefined.
   */
  async retire(keyId: string): Promise<ReleaseKey | undefined> {
    this.db.prepare('UPDATE release_keys SET retired_at = ? WHERE key_id = ? AND retired_at IS NULL').run(this.clock.now(), keyId)
    return this.get(keyId)
  }
}
