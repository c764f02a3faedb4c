import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock'

/**
 * Device tokens and the challenges devices sign to get one. Both carry an HMAC with the secret
 * every instance reads from the shared database, so checking a token on a poll needs no query, no
 * write and no signature verification. What a token cannot carry (a revocation since it was
 * issued) comes from `notBefore`, a cache the caller keeps current; that a challenge was answered
 * already, from the database (device-admission.ts).
 */

export const DEVICE_TOKEN_PREFIX = 'otd_'
/** How long a device has to sign a challenge. */
export const CHALLENGE_TTL_MS = 5 * 60_000

// otd_<device>.<issued ms>.<expires ms>.<HMAC-SHA256, base64url>
const TOKEN = /^otd_([0-9a-f]{12})\.([0-9]{13})\.([0-9]{13})\.([A-Za-z0-9_-]{43})$/
// <expires ms>.<nonce, 32 hex>.<HMAC-SHA256, base64url>
const CHALLENGE = /^([0-9]{13})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/

export type TokenCheck =
  | { ok: true; device: string; issuedAt: number; expiresAt: number }
  | { ok: false; code: 'device_token_invalid' | 'device_token_expired'; message: string }

/** The text a device signs with its key to get a token, answering `challenge`. */
export function tokenStatement(device: string, challenge: string): string {
  return `ota-gate device token v1\ndevice: ${device}\nchallenge: ${challenge}\n`
}

/** The text a device's accepted key signs to vouch for its next key (a rotation). */
export function rotationStatement(device: string, newKeyId: string): string {
  return `ota-gate device key v1\ndevice: ${device}\nkey_id: ${newKeyId}\n`
}

export class DeviceTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs: number,
    /** Tokens of this device issued before the answer (ms) are refused; undefined: none are. */
    private readonly notBefore: (device: string) => Promise<number | undefined>,
    private readonly clock: Clock
  ) {}

  private mac(kind: string, text: string): string {
    return createHmac('sha256', this.secret).update(`${kind}\n${text}`).digest('base64url')
  }

  private static same(a: string, b: string): boolean {
    const x = Buffer.from(a)
    const y = Buffer.from(b)
    return x.length === y.length && timingSafeEqual(x, y)
  }

  issue(device: string): { token: string; expiresAt: number } {
    const issuedAt = this.clock.now()
    const expiresAt = issuedAt + this.ttlMs
    const payload = `${device}.${issuedAt}.${expiresAt}`
    return { token: `${DEVICE_TOKEN_PREFIX}${payload}.${this.mac('token', payload)}`, expiresAt }
  }

  async verify(token: string): Promise<TokenCheck> {
    const m = TOKEN.exec(token)
    if (!m || !DeviceTokens.same(m[4], this.mac('token', `${m[1]}.${m[2]}.${m[3]}`))) {
      return { ok: false, code: 'device_token_invalid', message: 'the device token is not one this server issued: get a new one from POST /v1/devices/:device/token' }
    }
    const [device, issuedAt, expiresAt] = [m[1], Number(m[2]), Number(m[3])]
    if (expiresAt <= this.clock.now()) {
      return { ok: false, code: 'device_token_expired', message: 'the device token has expired: get a new one from POST /v1/devices/:device/token' }
    }
    const revoked = await this.notBefore(device)
    if (revoked !== undefined && issuedAt <= revoked) {
      return { ok: false, code: 'device_token_invalid', message: `device ${device} has been revoked: its tokens no longer work` }
    }
    return { ok: true, device, issuedAt, expiresAt }
  }

  challenge(device: string): { challenge: string; expiresAt: number } {
    const expiresAt = this.clock.now() + CHALLENGE_TTL_MS
    const nonce = randomBytes(16).toString('hex')
    return { challenge: `${expiresAt}.${nonce}.${this.mac('challenge', `${device}.${expiresAt}.${nonce}`)}`, expiresAt }
  }

  /**
   * The nonce and expiry of `challenge` if it was issued by this server (or one sharing its secret)
   * to `device` and is still fresh; undefined otherwise. Whether it was answered already is the
   * database's to say (a challenge buys one token).
   */
  freshChallenge(device: string, challenge: string): { nonce: string; expiresAt: number } | undefined {
    const m = CHALLENGE.exec(challenge)
    if (!m || !DeviceTokens.same(m[3], this.mac('challenge', `${device}.${m[1]}.${m[2]}`))) return undefined
    const expiresAt = Number(m[1])
    return expiresAt > this.clock.now() ? { nonce: m[2], expiresAt } : undefined
  }
}

/** How often a server re-reads the revocation generation: a revoked device's tokens stop within this on every instance. */
export const REVOCATION_CHECK_MS = 5000

/**
 * The devices whose tokens were revoked, re-read when the database's revocation generation moves,
 * which is checked at most every REVOCATION_CHECK_MS.
 */
export class RevocationCache {
  private notBefore = new Map<string, number>()
  private generationSeen = -1
  private checkedAt = -Infinity

  constructor(
    private readonly source: {
      revocationGeneration(): Promise<number>
      revocations(): Promise<Array<{ device: string; not_before: number }>>
    },
    private readonly clock: Clock
  ) {}

  async get(device: string): Promise<number | undefined> {
    const now = this.clock.now()
    if (now - this.checkedAt >= REVOCATION_CHECK_MS) {
      this.checkedAt = now
      const generation = await this.source.revocationGeneration()
      if (generation !== this.generationSeen) {
        this.notBefore = new Map((await this.source.revocations()).map((r) => [r.device, r.not_before]))
        this.generationSeen = generation
      }
    }
    return this.notBefore.get(device)
  }

  /** After a revocation made by this process: seen on the next check. */
  changed(): void {
    this.checkedAt = -Infinity
  }
}
