import crypto, { type KeyObject } from 'node:crypto'

// Release keys are ECDSA P-256 with SHA-256: what mbedTLS on an ESP32 verifies, and what
// `openssl dgst -sha256 -sign` produces from an `ecparam -name prime256v1` key.

export class ReleaseKeyError extends Error {
  override name = 'ReleaseKeyError'
}

function publicKeyObject(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') {
    return key.type === 'private' ? crypto.createPublicKey(key) : key
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new ReleaseKeyError('this is a private key; give the public key (PEM "BEGIN PUBLIC KEY"), e.g. `openssl pkey -in key.pem -pubout`')
  }
  try {
    return crypto.createPublicKey({ key, format: 'pem' })
  } catch {
    throw new ReleaseKeyError('not a PEM public key (expected "-----BEGIN PUBLIC KEY-----")')
  }
}

/** Refuses anything but an EC key on P-256, naming what was given. */
function assertP256(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec') {
    throw new ReleaseKeyError(`release keys must be ECDSA P-256; this is a ${key.asymmetricKeyType ?? 'unknown'} key`)
  }
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (curve !== 'prime256v1') {
    throw new ReleaseKeyError(`release keys must be ECDSA P-256 (prime256v1); this key is on ${curve ?? 'an unknown curve'}`)
  }
}

/** Parses a P-256 public key from PEM (or takes a key object), refusing private keys and other curves. */
export function loadReleasePublicKey(key: KeyObject | string): KeyObject {
  const pub = publicKeyObject(key)
  assertP256(pub)
  return pub
}

/** Canonical PEM of the public key (SPKI), as stored and served by GET /v1/keys. */
export function publicKeyPem(key: KeyObject | string): string {
  return loadReleasePublicKey(key).export({ type: 'spki', format: 'pem' }).toString()
}

/** First 16 hex characters of the SHA-256 of the DER SubjectPublicKeyInfo. */
export function keyIdOf(key: KeyObject | string): string {
  const der = publicKeyObject(key).export({ type: 'spki', format: 'der' })
  return crypto.createHash('sha256').update(der).digest('hex').slice(0, 16)
}

/**
 * True when `signatureBase64` (standard base64 of an ASN.1 DER ECDSA signature) verifies over the
 * UTF-8 bytes of `statement`. Throws ReleaseKeyError for a key that is not P-256; returns false for
 * a malformed signature.
 */
export function verifyStatement(statement: string, signatureBase64: string, publicKey: KeyObject | string): boolean {
  const key = loadReleasePublicKey(publicKey)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64) || signatureBase64.length % 4 !== 0) return false
  const signature = Buffer.from(signatureBase64, 'base64')
  try {
    return crypto.verify('sha256', Buffer.from(statement, 'utf8'), { key, dsaEncoding: 'der' }, signature)
  } catch {
    // A signature that is not valid DER makes OpenSSL throw rather than answer false.
    return false
  }
}

/** Signs the statement with a P-256 private key (PEM); returns base64 of the DER signature. */
export function signStatement(statement: string, privateKey: KeyObject | string): string {
  const key = typeof privateKey === 'string' ? crypto.createPrivateKey({ key: privateKey, format: 'pem' }) : privateKey
  if (key.type !== 'private') throw new ReleaseKeyError('signing needs the private key')
  assertP256(key)
  return crypto.sign('sha256', Buffer.from(statement, 'utf8'), { key, dsaEncoding: 'der' }).toString('base64')
}

export interface ReleaseKeyPair {
  privateKeyPem: string
  publicKeyPem: string
  keyId: string
}

/** A fresh P-256 key pair, private key as PKCS#8 PEM, public as SPKI PEM. */
export function generateKeyPair(): ReleaseKeyPair {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  }
}
