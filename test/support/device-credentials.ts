import crypto, { type KeyObject } from 'node:crypto'
import type { RunningServer } from './server'

/** A device's own P-256 key pair, as firmware makes at first boot. */
export interface DeviceKey {
  privateKey: KeyObject
  publicPem: string
  /** base64 of the DER SubjectPublicKeyInfo */
  publicDer: string
  keyId: string
}

export function newDeviceKey(): DeviceKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return {
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicDer: der.toString('base64'),
    keyId: crypto.createHash('sha256').update(der).digest('hex').slice(0, 16),
  }
}

/** Base64 DER ECDSA P-256/SHA-256 signature, as mbedTLS makes. */
export const sign = (key: DeviceKey, text: string) => crypto.sign('sha256', Buffer.from(text, 'utf8'), { key: key.privateKey, dsaEncoding: 'der' }).toString('base64')

async function send(server: RunningServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** POST /v1/devices/:device/enroll with the device's public key (PEM). */
export function enroll(
  server: RunningServer,
  device: string,
  key: DeviceKey,
  extra: { enrollment_token?: string; rotation_signature?: string; board?: string; public_key?: string } = {}
) {
  return send(server, 'POST', `/v1/devices/${device}/enroll`, { public_key: key.publicPem, board: 'esp32cam', ...extra })
}

/** Challenge, signature, token: what an accepted device does to get a device token. */
export async function requestToken(server: RunningServer, device: string, key: DeviceKey) {
  const challenge = await send(server, 'GET', `/v1/devices/${device}/challenge`)
  if (challenge.status !== 200) throw new Error(`challenge answered ${challenge.status}`)
  const text = `ota-gate device token v1\ndevice: ${device}\nchallenge: ${challenge.body.challenge}\n`
  return send(server, 'POST', `/v1/devices/${device}/token`, { challenge: challenge.body.challenge, signature: sign(key, text) })
}

/** A device token for an accepted device, or a thrown error saying why not. */
export async function deviceToken(server: RunningServer, device: string, key: DeviceKey): Promise<string> {
  const r = await requestToken(server, device, key)
  if (r.status !== 200) throw new Error(`token answered ${r.status}: ${JSON.stringify(r.body)}`)
  return r.body.token as string
}

/** An operator's decision on a device (accept, reject, revoke). */
export function decide(server: RunningServer, operator: string, action: 'accept' | 'reject' | 'revoke', device: string, body: Record<string, unknown> = {}) {
  return send(server, 'POST', `/v1/devices/${device}/${action}`, body, { authorization: `Bearer ${operator}` })
}

/** Enrolls the device and has the operator accept it; resolves to its key and a device token. */
export async function admitted(server: RunningServer, operator: string, device: string): Promise<{ key: DeviceKey; token: string }> {
  const key = newDeviceKey()
  const e = await enroll(server, device, key)
  if (e.status !== 202) throw new Error(`enroll answered ${e.status}: ${JSON.stringify(e.body)}`)
  const a = await decide(server, operator, 'accept', device)
  if (a.status !== 200) throw new Error(`accept answered ${a.status}: ${JSON.stringify(a.body)}`)
  return { key, token: await deviceToken(server, device, key) }
}

/** A manifest poll naming the device, with its token when given; resolves to status and body. */
export async function pollWith(server: RunningServer, device: string, runs: { version: string; sequence: number }, token?: string) {
  const q = new URLSearchParams({ board: 'esp32cam', device, version: runs.version, sequence: String(runs.sequence) })
  const res = await fetch(`${server.url}/v1/manifest?${q}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** A report, with the device's token when given. */
export function reportWith(server: RunningServer, device: string, body: Record<string, unknown>, token?: string) {
  return send(server, 'POST', `/v1/devices/${device}/reports`, body, token ? { authorization: `Bearer ${token}` } : {})
}
