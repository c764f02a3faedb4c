import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import type { Shape } from './shape'

export const ROLES = ['releaser', 'operator', 'admin'] as const
export type Role = (typeof ROLES)[number]

export interface TokenInfo {
  name: string
  role: Role
  created_at: number
  revoked_at: number | null
  last_used_at: number | null
}

export interface Identity {
  name: string
  role: Role
}

export const TOKEN_PREFIX = 'otg_'

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

export class TokenNameTaken extends Error {
  static named(name: string): TokenNameTaken {
    return new TokenNameTaken(`an active token named "${name}" exists: revoke it first or choose another name`)
  }
}

/** What any backend's tokens repository offers. */
export type TokensStore = Shape<TokensRepository>

/** Bearer tokens: only their SHA-256 is stored (tokens are 256 random bits, so a fast hash is enough). */
export class TokensRepository {
  constructor(private readonly db: Database) {}

  async create(name: string, role: Role): Promise<string> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    try {
      this.db
        .prepare('INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)')
        .run(name, role, hashToken(token).toString('hex'), Date.now())
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw TokenNameTaken.named(name)
      }
      throw err
    }
    return token
  }

  async list(): Promise<TokenInfo[]> {
    return this.db
      .prepare('SELECT name, role, created_at, revoked_at, last_used_at FROM tokens ORDER BY created_at, id')
      .all() as TokenInfo[]
  }

  /** Revokes the active token of that name; false when there is none. */
  async revoke(name: string): Promise<boolean> {
    const r = this.db
      .prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL')
      .run(Date.now(), name)
    return r.changes > 0
  }

  /** The identity behind an active token, or undefined. Reads only: checking a token needs no write. */
  async authenticate(token: string): Promise<Identity | undefined> {
    const digest = hashToken(token)
    const row = this.db
      .prepare('SELECT name, role, hash FROM tokens WHERE hash = ? AND revoked_at IS NULL')
      .get(digest.toString('hex')) as { name: string; role: Role; hash: string } | undefined
    // The index finds the row; the comparison itself is constant-time.
    if (!row || !timingSafeEqual(Buffer.from(row.hash, 'hex'), digest)) return undefined
    return { name: row.name, role: row.role }
  }

  /** Notes that the token was used now: at most once a minute, so that most requests write nothing. */
  async markUsed(token: string, at: number = Date.now()): Promise<void> {
    this.db
      .prepare('UPDATE tokens SET last_used_at = @at WHERE hash = @hash AND (last_used_at IS NULL OR last_used_at < @at - 60000)')
      .run({ at, hash: hashToken(token).toString('hex') })
  }
}
