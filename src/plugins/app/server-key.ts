import crypto, { type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import fp from 'fastify-plugin'
import { keyIdOf } from '../../release/keys'
import { serverKeyMismatch } from '../../manifest/server-identity'
import { PgServerIdentityRepository } from '../../repositories/server-identity'

/** The key the server signs manifests with (never a release key: those stay offline). */
export interface ServerKey {
  keyId: string
  privateKey: KeyObject
  publicKeyPem: string
}

declare module 'fastify' {
  interface FastifyInstance {
    serverKey: ServerKey
  }
}

export class ServerKeyError extends Error {
  override name = 'ServerKeyError'
}

export const SERVER_KEY_FILE = path.join('keys', 'server-key.pem')

/** `source` names where the key came from, so that a refusal says which setting or file to fix. */
function fromPem(pem: string, source: string): ServerKey {
  let privateKey: KeyObject
  try {
    privateKey = crypto.createPrivateKey({ key: pem, format: 'pem' })
  } catch {
    throw new ServerKeyError(`${source} is not a PEM private key (expected e.g. "-----BEGIN PRIVATE KEY-----")`)
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what = privateKey.asymmetricKeyType === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `a ${privateKey.asymmetricKeyType} key`
    throw new ServerKeyError(
      `${source} is ${what}; the server key must be ECDSA P-256 (openssl ecparam -name prime256v1 -genkey -noout)`
    )
  }
  const publicKey = crypto.createPublicKey(privateKey)
  return {
    keyId: keyIdOf(publicKey),
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

/** OTA_SERVER_KEY holds the PEM itself or the path of a file holding it. */
function fromSetting(setting: string): ServerKey {
  if (setting.includes('-----BEGIN')) {
    // An environment file holds one line per variable, so the PEM may come with "\n" for its line breaks.
    const pem = setting.includes('\n') ? setting : setting.replace(/\\n/g, '\n')
    return fromPem(pem, 'OTA_SERVER_KEY (the PEM given)')
  }
  let pem: string
  try {
    pem = fs.readFileSync(setting, 'utf8')
  } catch (err) {
    throw new ServerKeyError(`OTA_SERVER_KEY: cannot read ${setting} (${(err as NodeJS.ErrnoException).code ?? String(err)}); give a PEM or the path of one`)
  }
  return fromPem(pem, `OTA_SERVER_KEY=${setting}`)
}

/**
 * Writes a new key durably and without a window where a half-written file exists: temp file (0600),
 * fsync, then link() into place — an atomic rename that, unlike rename(), never replaces a key
 * another process created meanwhile; that one wins and is read back.
 */
function createKeyFile(file: string): void {
  const dir = path.dirname(file)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const temp = path.join(dir, `.server-key.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`)
  const fd = fs.openSync(temp, 'wx', 0o600)
  try {
    fs.writeFileSync(fd, pem)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.linkSync(temp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    fs.unlinkSync(temp)
  }
  const dirFd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(dirFd)
  } finally {
    fs.closeSync(dirFd)
  }
}

/** The configured key, else the one kept in the data folder, created there on first start. */
export function loadServerKey(setting: string | undefined, dataDir: string): ServerKey {
  if (setting !== undefined) return fromSetting(setting)
  const file = path.join(dataDir, SERVER_KEY_FILE)
  if (!fs.existsSync(file)) createKeyFile(file)
  return fromPem(fs.readFileSync(file, 'utf8'), `the server key file ${file} (set OTA_SERVER_KEY to use another key)`)
}

export default fp(
  async function serverKeyPlugin(app) {
    const key = loadServerKey(app.config.OTA_SERVER_KEY, app.config.OTA_DATA_DIR)
    if (app.backend.pool !== undefined) {
      const mismatch = serverKeyMismatch(await new PgServerIdentityRepository(app.backend.pool).recordFirst(key), key)
      if (mismatch) throw new ServerKeyError(mismatch)
    }
    app.log.info({ keyId: key.keyId }, 'manifest signing key loaded')
    app.decorate('serverKey', key)
  },
  { name: 'server-key', dependencies: ['config', 'db'] }
)
