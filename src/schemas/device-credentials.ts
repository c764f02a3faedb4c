import { Type, type Static } from '@sinclair/typebox'
import { PUBLIC_KEY_MAX_CHARS } from '../fleet/device-admission'
import { DEVICE_KEY_STATES, type AllowlistRow, type DeviceKeyRow, type EnrollmentTokenRow } from '../repositories/device-credentials'
import { BoardName } from './common'

const Time = Type.String({ format: 'date-time', description: 'ISO 8601 UTC' })
const NullableTime = Type.Union([Time, Type.Null()])
const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))

export const KeyId = Type.String({ pattern: '^[0-9a-f]{16}$', description: 'first 16 hex of SHA-256 of the DER SubjectPublicKeyInfo' })
/** Base64 of an ASN.1 DER ECDSA P-256 signature (at most 72 bytes). */
export const Signature = Type.String({ pattern: '^[A-Za-z0-9+/]{1,120}={0,2}$', description: 'base64 of a DER ECDSA P-256/SHA-256 signature' })
export const KeyState = Type.Union(DEVICE_KEY_STATES.map((s) => Type.Literal(s)))

export const EnrollBody = Type.Object(
  {
    public_key: Type.String({ minLength: 1, maxLength: PUBLIC_KEY_MAX_CHARS, description: 'P-256 public key: PEM, or base64 of the DER SubjectPublicKeyInfo' }),
    board: BoardName,
    enrollment_token: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'accepts the device at once, if valid' })),
    rotation_signature: Type.Optional({ ...Signature, description: 'the accepted key vouching for this one: its signature over the key rotation statement' }),
  },
  { additionalProperties: false }
)

export const EnrollAnswer = Type.Object({
  device: Type.String(),
  key_id: KeyId,
  state: KeyState,
})

export const ChallengeAnswer = Type.Object({
  challenge: Type.String({ description: 'sign the device token statement over it' }),
  expires_at: Time,
})

export const TokenBody = Type.Object(
  {
    challenge: Type.String({ minLength: 1, maxLength: 128 }),
    signature: Signature,
  },
  { additionalProperties: false }
)

export const TokenAnswer = Type.Object({
  token: Type.String({ description: 'send as Authorization: Bearer on polls, reports and downloads' }),
  expires_at: Time,
})

export const DeviceKeyView = Type.Object({
  device: Type.String(),
  key_id: KeyId,
  board: BoardName,
  state: KeyState,
  public_key_pem: Type.String(),
  requested_at: Time,
  address: Type.Union([Type.String(), Type.Null()], { description: 'where the enrollment came from' }),
  decided_at: NullableTime,
  decided_by: Type.Union([Type.String(), Type.Null()]),
})
export type DeviceKeyView = Static<typeof DeviceKeyView>

export function deviceKeyView(k: DeviceKeyRow): DeviceKeyView {
  const pem = `-----BEGIN PUBLIC KEY-----\n${k.public_key.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`
  return {
    device: k.device,
    key_id: k.key_id,
    board: k.board,
    state: k.state,
    public_key_pem: pem,
    requested_at: iso(k.requested_at),
    address: k.address,
    decided_at: isoOrNull(k.decided_at),
    decided_by: k.decided_by,
  }
}

export const AllowlistView = Type.Object({ device: Type.String(), added_at: Time, added_by: Type.String(), note: Type.Union([Type.String(), Type.Null()]) })

export function allowlistView(r: AllowlistRow): Static<typeof AllowlistView> {
  return { ...r, added_at: iso(r.added_at) }
}

export const EnrollmentTokenView = Type.Object({
  name: Type.String(),
  max_uses: Type.Union([Type.Integer(), Type.Null()]),
  uses: Type.Integer(),
  expires_at: NullableTime,
  created_at: Time,
  created_by: Type.String(),
  revoked_at: NullableTime,
  state: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired'), Type.Literal('used_up')]),
})

export function enrollmentTokenView(r: EnrollmentTokenRow, now: number): Static<typeof EnrollmentTokenView> {
  const state =
    r.revoked_at !== null ? 'revoked'
    : r.expires_at !== null && r.expires_at <= now ? 'expired'
    : r.max_uses !== null && r.uses >= r.max_uses ? 'used_up'
    : 'active'
  return {
    name: r.name,
    max_uses: r.max_uses,
    uses: r.uses,
    expires_at: isoOrNull(r.expires_at),
    created_at: iso(r.created_at),
    created_by: r.created_by,
    revoked_at: isoOrNull(r.revoked_at),
    state,
  }
}
