import type { Pool } from 'pg'
import type { Clock } from '../clock'

export interface ServerIdentityRow {
  key_id: string
  public_key_pem: string
  /** ms since the epoch */
  recorded_at: number
}

/** The server key the database records (table server_identity, one row). */
export class PgServerIdentityRepository {
  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock
  ) {}

  /** Records `key` when no key is recorded yet; returns the recorded one (the first writer's, if two race). */
  async recordFirst(key: { keyId: string; publicKeyPem: string }): Promise<ServerIdentityRow> {
    await this.pool.query(
      'INSERT INTO server_identity (id, key_id, public_key_pem, recorded_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING',
      [key.keyId, key.publicKeyPem, this.clock.now()]
    )
    const { rows } = await this.pool.query<ServerIdentityRow>('SELECT key_id, public_key_pem, recorded_at FROM server_identity WHERE id = 1')
    return { ...rows[0], recorded_at: Number(rows[0].recorded_at) }
  }
}
