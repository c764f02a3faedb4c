import crypto, { type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { openPostgres } from '../../src/db/postgres'
import { keyIdOf } from '../../src/release/keys'
import { buildReleaseStatement } from '../../src/release/release-statement'
import { createPostgresRepositories } from '../../src/repositories/postgres'
import type { ReleaseView } from '../../src/schemas/release'
import { buildEspImage } from './esp-image-builder'
import { cli, createToken, dataFolderEnv, type RunningServer, type TestContext } from './server'

/** A releaser token and a trusted release key of one test server, made once and reused. */
export interface Publisher {
  token: string
  keyId: string
  privateKey: KeyObject
  publicKeyPem: string
}

/** A server to publish to: an in-process one (startServer) or a server process. */
export type PublishTarget = Pick<RunningServer, 'url' | 'dataDir'>

const publishers = new WeakMap<PublishTarget, Promise<Publisher>>()

async function makePublisher(server: PublishTarget): Promise<Publisher> {
  const token = await createToken(server.dataDir, 'releaser', `releaser-${crypto.randomBytes(4).toString('hex')}`)
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  // Trusted as an operator would: the CLI on the data folder, with the public key in a file.
  const pemFile = path.join(server.dataDir, `release-key-${crypto.randomBytes(4).toString('hex')}.pub`)
  fs.writeFileSync(pemFile, publicKeyPem)
  const trusted = await cli(['keys', 'trust', pemFile, '--name', 'test release key'], dataFolderEnv(server.dataDir))
  if (trusted.code !== 0) throw new Error(`keys trust failed (${trusted.code}): ${trusted.stderr}${trusted.stdout}`)
  const keyId = crypto.createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
  return { token, keyId, privateKey, publicKeyPem }
}

/**
 * A releaser token and a trusted release key in the PostgreSQL database at `url` (migrated by an
 * instance already), written through the repositories as the CLI writes them.
 */
export async function postgresPublisher(t: TestContext, url: string): Promise<Publisher> {
  const pool = openPostgres({ url, pool: 1 })
  t.teardown(() => pool.end())
  const repos = createPostgresRepositories(pool)
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  await repos.releaseKeys.trust({ key_id: keyIdOf(publicKey), name: 'test release key', public_key_pem: publicKeyPem })
  const token = await repos.tokens.create(`releaser-${crypto.randomBytes(4).toString('hex')}`, 'releaser')
  return { token, keyId: keyIdOf(publicKey), privateKey, publicKeyPem }
}

/** The server's releaser token and trusted release key, created on first use. */
export function publisherOf(server: PublishTarget): Promise<Publisher> {
  let p = publishers.get(server)
  if (!p) {
    p = makePublisher(server)
    publishers.set(server, p)
  }
  return p
}

export interface PublishOptions {
  board?: string
  version: string
  sequence: number
  channel?: string
  /** the binary; by default a valid ESP32 image carrying `version` (see `imageSize`) */
  image?: Buffer
  /** approximate size of the default image */
  imageSize?: number
  tag?: string
  commit?: string
  notes?: string
  /** POST /v1/releases rollout_percent; the channel's policy when absent */
  rolloutPercent?: number
  /** the releaser token and trusted key to publish with; by default the server's, made with the CLI on its data folder */
  publisher?: Publisher
}

export interface PublishedRelease {
  /** the release as POST /v1/releases answered it */
  release: ReleaseView
  image: Buffer
  sha256: string
  md5: string
  publisher: Publisher
}

async function expectOk(res: Response, what: string, statuses: number[]): Promise<unknown> {
  const text = await res.text()
  if (!statuses.includes(res.status)) throw new Error(`${what} answered ${res.status}: ${text}`)
  return JSON.parse(text)
}

/**
 * Publishes a release the way a release tool does: PUT /v1/artifacts/<sha256>, then POST
 * /v1/releases with the release statement signed by a trusted key. Tag and commit default to
 * `prod-<version>` and a commit id derived from the version. Throws with the server's answer on refusal.
 */
export async function publishRelease(server: PublishTarget, opts: PublishOptions): Promise<PublishedRelease> {
  const publisher = opts.publisher ?? (await publisherOf(server))
  const board = opts.board ?? 'esp32cam'
  const image = opts.image ?? buildEspImage({ version: opts.version, seed: opts.sequence, ...(opts.imageSize === undefined ? {} : { size: opts.imageSize }) })
  const sha256 = crypto.createHash('sha256').update(image).digest('hex')
  const md5 = crypto.createHash('md5').update(image).digest('hex')
  const auth = { authorization: `Bearer ${publisher.token}` }
  await expectOk(
    await fetch(`${server.url}/v1/artifacts/${sha256}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: image,
    }),
    'PUT /v1/artifacts',
    [200, 201]
  )
  const tag = opts.tag ?? `prod-${opts.version}`
  const commit = opts.commit ?? crypto.createHash('sha1').update(`commit of ${opts.version}`).digest('hex')
  const statement = buildReleaseStatement({ board, version: opts.version, sequence: opts.sequence, size: image.length, sha256, tag, commit })
  const signature = crypto.sign('sha256', Buffer.from(statement, 'utf8'), { key: publisher.privateKey, dsaEncoding: 'der' }).toString('base64')
  const body = {
    board,
    version: opts.version,
    sequence: opts.sequence,
    sha256,
    tag,
    commit,
    signature,
    key_id: publisher.keyId,
    ...(opts.channel === undefined ? {} : { channel: opts.channel }),
    ...(opts.notes === undefined ? {} : { notes: opts.notes }),
    ...(opts.rolloutPercent === undefined ? {} : { rollout_percent: opts.rolloutPercent }),
  }
  const release = (await expectOk(
    await fetch(`${server.url}/v1/releases`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
    'POST /v1/releases',
    [201]
  )) as ReleaseView
  return { release, image, sha256, md5, publisher }
}
