import { randomBytes, timingSafeEqual } from 'node:crypto'
import type pg from 'pg'
import { changes, one, all, uniqueViolation } from '../../db/postgres'
import { TOKEN_PREFIX, TokenNameTaken, hashToken, type Identity, type Role, type TokenInfo, type TokensStore } from '../tokens'

export class PgTokensRepository implements TokensStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(name: string, role: Role): Promise<string> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    try {
      await this.pool.query('INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4)', [name, role, hashToken(token).toString('hex'), Date.now()])
    } catch (err) {
      if (uniqueViolation(err) !== undefined) throw TokenNameTaken.named(name)
      throw err
    }
    return token
  }

  async list(): Promise<TokenInfo[]> {
    return all(this.pool, 'SELECT name, role, created_at, revoked_at, last_used_at FROM tokens ORDER BY created_at, id')
  }

  async revoke(name: string): Promise<boolean> {
    return (await changes(this.pool, 'UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL', [Date.now(), name])) > 0
  }

  async authenticate(token: string): Promise<Identity | undefined> {
    const digest = hashToken(token)
    const row = await one<{ name: string; role: Role; hash: string }>(this.pool, 'SELECT name, role, hash FROM tokens WHERE hash = $1 AND revoked_at IS NULL', [
      digest.toString('hex'),
    ])
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), digest)) return undefined
    return { name: row.name, role: row.role }
  }

  async markUsed(token: string, at: number = Date.now()): Promise<void> {
    await this.pool.query('UPDATE tokens SET last_used_at = $1 WHERE hash = $2 AND (last_used_at IS NULL OR last_used_at < $1 - 60000)', [
      at,
      hashToken(token).toString('hex'),
    ])
  }
}
