import crypto, { type KeyObject } from 'node:crypto'
import { Refusal, badRequest, unauthorized } from '../errors'
import { keyIdOf, verifyStatement } from '../release/keys'
import type { Repositories } from '../repositories'
import type { AuditAction } from '../repositories/audit'
import type { DeviceKeyRow, DeviceKeyState, EnrollmentTokenRow } from '../repositories/device-credentials'
import { hashToken } from '../repositories/tokens'
import { rotationStatement, tokenStatement, type DeviceTokens } from './device-tokens'
import { requireBoard } from './known-board'
import type { Clock } from '../clock'

/**
 * Mender-style admission. A device enrolls with its P-256 public key and waits (pending) until an
 * operator accepts it, unless it carries a valid enrollment token or its id is on the allow-list,
 * and only when it has no accepted key yet: neither lets a new key take over an accepted device.
 * An accepted device moves to a new key by signing it with its current one (a rotation), or by an
 * operator accepting the new key.
 */

/** Longest public key text accepted (a P-256 SPKI PEM is 178 characters). */
export const PUBLIC_KEY_MAX_CHARS = 1024
/** Enrollment tokens start with this, so that one pasted in the wrong place is recognised. */
export const ENROLLMENT_TOKEN_PREFIX = 'ote_'
/** Enrollment requests waiting at once: anyone can ask, so the table must not grow without end. */
export const MAX_PENDING = 100_000

export interface DevicePublicKey {
  key: KeyObject
  der: Buffer
  keyId: string
}

/** A P-256 public key as PEM ("BEGIN PUBLIC KEY") or base64 of the DER SubjectPublicKeyInfo. */
export function parseDevicePublicKey(text: string): DevicePublicKey {
  if (text.length > PUBLIC_KEY_MAX_CHARS) throw badRequest(`body public_key is over ${PUBLIC_KEY_MAX_CHARS} characters: send the P-256 public key alone`)
  let key: KeyObject
  try {
    key = text.includes('-----BEGIN')
      ? crypto.createPublicKey({ key: text, format: 'pem' })
      : crypto.createPublicKey({ key: Buffer.from(text.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' })
  } catch {
    throw new Refusal('key_invalid', 'body public_key is neither a PEM public key nor base64 of a DER SubjectPublicKeyInfo')
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Refusal('key_invalid', 'body public_key must be an ECDSA P-256 (prime256v1) public key')
  }
  const der = key.export({ type: 'spki', format: 'der' })
  return { key, der, keyId: keyIdOf(key) }
}

const publicKeyOf = (row: DeviceKeyRow): KeyObject => crypto.createPublicKey({ key: row.public_key, format: 'der', type: 'spki' })

/** A base64 DER ECDSA signature over `statement` by the key of `row`. */
function signedBy(row: DeviceKeyRow, statement: string, signature: string): boolean {
  return verifyStatement(statement, signature, publicKeyOf(row))
}

export interface EnrollRequest {
  device: string
  publicKey: string
  board: string
  address: string
  enrollmentToken?: string
  /** the accepted key's signature over rotationStatement(device, new key id) */
  rotationSignature?: string
}

export interface EnrollAnswer {
  device: string
  key_id: string
  state: DeviceKeyState
}

export class DeviceAdmission {
  constructor(
    private readonly repos: Repositories,
    /** Called once a device's tokens are revoked here, so that this process refuses them at once. */
    private readonly revoked: () => void,
    private readonly clock: Clock,
    /** Called once a device's key was recorded or decided here, so that this process reads its standing afresh. */
    private readonly keysChanged: (device: string) => Promise<void>
  ) {}

  private entry(actor: string, action: AuditAction, device: string | null, reason: string | null, details: Record<string, unknown>) {
    return { actor, action, board: null, channel: null, version: null, device, reason, details }
  }

  async enroll(req: EnrollRequest): Promise<EnrollAnswer> {
    const key = parseDevicePublicKey(req.publicKey)
    await requireBoard(this.repos, req.board)
    const at = this.clock.now()
    const answer = (state: DeviceKeyState): EnrollAnswer => ({ device: req.device, key_id: key.keyId, state })
    const known = await this.repos.credentials.key(req.device, key.keyId)
    if (known?.state === 'accepted') return answer('accepted')
    if (known && known.state !== 'pending') {
      throw new Refusal(known.state === 'revoked' ? 'device_revoked' : 'device_rejected', `key ${key.keyId} of device ${req.device} was ${known.state} by an operator: enroll with a new key, or ask an operator to accept this one`)
    }
    const request = { device: req.device, key_id: key.keyId, public_key: key.der, board: req.board, address: req.address, requested_at: at }
    const accept = (decidedBy: string, action: AuditAction, details: Record<string, unknown>) => ({
      device: req.device,
      key_id: key.keyId,
      state: 'accepted' as const,
      decided_by: decidedBy,
      at,
      audit: this.entry(decidedBy, action, req.device, null, { key_id: key.keyId, board: req.board, ...details }),
    })
    const current = await this.repos.credentials.acceptedKey(req.device)

    if (req.rotationSignature !== undefined) {
      if (!current) throw new Refusal('conflict', `device ${req.device} has no accepted key to vouch for a new one: enroll without rotation_signature`)
      if (!signedBy(current, rotationStatement(req.device, key.keyId), req.rotationSignature)) {
        throw unauthorized(`rotation_signature does not verify with the accepted key ${current.key_id} of device ${req.device}: sign exactly ${JSON.stringify(rotationStatement(req.device, key.keyId))}`)
      }
      await this.repos.credentials.request(request, { decision: accept('rotation', 'device_key_rotated', { previous_key_id: current.key_id }) })
      return this.accepted(req.device, answer)
    }
    if (!current && req.enrollmentToken !== undefined) {
      const token = await this.validEnrollmentToken(req.enrollmentToken, at)
      const by = `enrollment:${token.name}`
      if (await this.repos.credentials.request(request, { decision: accept(by, 'device_accept', { enrollment_token: token.name }), consumeToken: token.id })) {
        return this.accepted(req.device, answer)
      }
      throw new Refusal('enrollment_token_invalid', `enrollment token "${token.name}" has no use left`)
    }
    if (!current && (await this.repos.credentials.allowed(req.device))) {
      await this.repos.credentials.request(request, { decision: accept('allow-list', 'device_accept', { allow_list: true }) })
      return this.accepted(req.device, answer)
    }
    if (known?.state !== 'pending' && (await this.repos.credentials.pendingCount()) >= MAX_PENDING) {
      throw new Refusal('too_many_pending', `${MAX_PENDING} enrollments already wait for an operator: try again later`, { headers: { 'retry-after': '3600' } })
    }
    await this.repos.credentials.request(request)
    return answer('pending')
  }

  /** A key accepted as it enrolled: polls read the device's standing afresh. */
  private async accepted(device: string, answer: (state: DeviceKeyState) => EnrollAnswer): Promise<EnrollAnswer> {
    await this.keysChanged(device)
    return answer('accepted')
  }

  private async validEnrollmentToken(token: string, at: number) {
    const digest = hashToken(token)
    const row = await this.repos.credentials.enrollmentTokenByHash(digest.toString('hex'))
    // The index finds the row; the comparison itself is constant-time.
    if (!row || !crypto.timingSafeEqual(Buffer.from(row.hash, 'hex'), digest)) {
      throw new Refusal('enrollment_token_invalid', 'the enrollment token is not known to this server')
    }
    const why =
      row.revoked_at !== null ? 'was revoked'
      : row.expires_at !== null && row.expires_at <= at ? 'has expired'
      : row.max_uses !== null && row.uses >= row.max_uses ? 'has no use left'
      : null
    if (why) throw new Refusal('enrollment_token_invalid', `enrollment token "${row.name}" ${why}`)
    return row
  }

  /** A token for an accepted device that signed a fresh challenge with its key. */
  async token(tokens: DeviceTokens, device: string, challenge: string, signature: string): Promise<{ token: string; expiresAt: number }> {
    const fresh = tokens.freshChallenge(device, challenge)
    if (!fresh) {
      throw new Refusal('challenge_invalid', `the challenge is not one this server gave device ${device}, or it has expired: get a fresh one from GET /v1/devices/${device}/challenge`)
    }
    const key = await this.repos.credentials.acceptedKey(device)
    if (!key) {
      const latest = (await this.repos.credentials.keysOf(device))[0]
      if (!latest) throw new Refusal('device_not_enrolled', `device ${device} has not enrolled: POST /v1/devices/${device}/enroll with its public key first`)
      if (latest.state === 'pending') throw new Refusal('device_pending', `device ${device} waits for an operator to accept it (key ${latest.key_id})`)
      throw new Refusal(latest.state === 'revoked' ? 'device_revoked' : 'device_rejected', `device ${device} was ${latest.state === 'replaced' ? 'rejected' : latest.state} by an operator`)
    }
    if (!signedBy(key, tokenStatement(device, challenge), signature)) {
      throw unauthorized(`the signature does not verify with the accepted key ${key.key_id} of device ${device}: sign ${JSON.stringify(tokenStatement(device, challenge))} with it (ECDSA P-256/SHA-256, DER, base64)`)
    }
    // Only a verified answer uses the challenge up: anyone may send a wrong signature.
    if (!(await this.repos.credentials.useChallenge(fresh.nonce, fresh.expiresAt, this.clock.now()))) {
      throw new Refusal('challenge_invalid', `the challenge was answered already (each buys one token): get a fresh one from GET /v1/devices/${device}/challenge`)
    }
    return tokens.issue(device)
  }

  // ---- operators ----

  /** A new enrollment token; only its hash is stored, so the token is returned this once. */
  async createEnrollmentToken(
    spec: { name: string; maxUses: number | null; expiresInMs: number | null },
    who: { actor: string; reason: string | null }
  ): Promise<{ token: string; row: EnrollmentTokenRow }> {
    const token = ENROLLMENT_TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url')
    const at = this.clock.now()
    const expiresAt = spec.expiresInMs === null ? null : at + spec.expiresInMs
    const row = await this.repos.credentials.createEnrollmentToken(
      { name: spec.name, hash: hashToken(token).toString('hex'), max_uses: spec.maxUses, expires_at: expiresAt, created_at: at, created_by: who.actor },
      this.entry(who.actor, 'enrollment_create', null, who.reason, { name: spec.name, max_uses: spec.maxUses, expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString() })
    )
    return { token, row }
  }

  async revokeEnrollmentToken(name: string, who: { actor: string; reason: string | null }): Promise<void> {
    if (!(await this.repos.credentials.revokeEnrollmentToken(name, this.entry(who.actor, 'enrollment_revoke', null, who.reason, { name })))) {
      throw new Refusal('enrollment_not_found', `no active enrollment token is named "${name}" (see \`ota-gate enrollment list\`)`)
    }
  }

  /** Puts devices on the allow-list (or takes them off); returns how many changed. */
  async allowlist(change: 'add' | 'remove', devices: string[], note: string | null, who: { actor: string; reason: string | null }): Promise<number> {
    const audit = this.entry(who.actor, change === 'add' ? 'allowlist_add' : 'allowlist_remove', devices.length === 1 ? devices[0] : null, who.reason, { devices })
    return change === 'add'
      ? this.repos.credentials.allow(devices, who.actor, note, audit)
      : this.repos.credentials.disallow(devices, audit)
  }

  /** The key an operator's decision is about: the one named, else the one the state implies. */
  private async keyFor(device: string, keyId: string | undefined, states: DeviceKeyState[], what: string): Promise<DeviceKeyRow> {
    const keys = await this.repos.credentials.keysOf(device)
    if (keys.length === 0) throw new Refusal('device_not_enrolled', `device ${device} has not enrolled`)
    const candidates = keys.filter((k) => (keyId === undefined || k.key_id === keyId) && states.includes(k.state))
    if (candidates.length === 1) return candidates[0]
    if (keyId !== undefined) {
      const named = keys.find((k) => k.key_id === keyId)
      if (!named) throw new Refusal('device_not_enrolled', `device ${device} has no key ${keyId} (its keys: ${keys.map((k) => k.key_id).join(', ')})`)
      throw new Refusal('conflict', `key ${keyId} of device ${device} is ${named.state}: it cannot be ${what}`)
    }
    if (candidates.length === 0) {
      throw new Refusal('conflict', `device ${device} has no key that can be ${what} (its keys: ${keys.map((k) => `${k.key_id} ${k.state}`).join(', ')})`)
    }
    throw new Refusal('conflict', `device ${device} has several keys that can be ${what}: name one with key_id (${candidates.map((k) => k.key_id).join(', ')})`)
  }

  async decide(
    action: 'accept' | 'reject' | 'revoke',
    device: string,
    keyId: string | undefined,
    who: { actor: string; reason: string | null }
  ): Promise<DeviceKeyRow> {
    const plan = {
      accept: { from: ['pending', 'rejected', 'revoked', 'replaced'], to: 'accepted', audit: 'device_accept', what: 'accepted' },
      reject: { from: ['pending'], to: 'rejected', audit: 'device_reject', what: 'rejected' },
      revoke: { from: ['accepted'], to: 'revoked', audit: 'device_revoke', what: 'revoked' },
    }[action] as { from: DeviceKeyState[]; to: DeviceKeyState; audit: AuditAction; what: string }
    const key = await this.keyFor(device, keyId, plan.from, plan.what)
    const at = this.clock.now()
    await this.repos.credentials.decide({
      device,
      key_id: key.key_id,
      state: plan.to,
      decided_by: who.actor,
      at,
      audit: this.entry(who.actor, plan.audit, device, who.reason, { key_id: key.key_id, board: key.board, from: key.state }),
    })
    await this.keysChanged(device)
    if (key.state === 'accepted') this.revoked()
    return { ...key, state: plan.to, decided_at: at, decided_by: who.actor }
  }
}
