import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { systemClock } from '../../src/clock'
import { openPostgres } from '../../src/db/postgres'
import { buildFactoryStatement } from '../../src/release/factory-statement'
import { generateKeyPair, signStatement, type ReleaseKeyPair } from '../../src/release/keys'
import { buildReleaseStatement } from '../../src/release/release-statement'
import { createPostgresRepositories } from '../../src/repositories/postgres'
import type { ReleaseView } from '../../src/schemas/release'
import { buildEspImage } from './esp-image-builder'
import { factoryImage } from './factory-image-builder'
import { call, type JsonAnswer, type Target } from './http'
import { cli, createToken, dataFolderEnv, type RunningServer, type TestContext } from './server'

// Publishing releases as a release tool does: PUT /v1/artifacts/<sha256>, then POST /v1/releases
// with the release statement signed by a trusted key. publishRelease does it in one call; the
// building blocks are here for tests that get a part right or wrong on purpose.

export const sha256Of = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex')

/** An app to publish to: built (buildApp), listening (startServer) or a server process. */
export type PublishTarget = Target & Pick<RunningServer, 'dataDir'>

/** A fresh P-256 key trusted on the server's data folder through the CLI, as an admin does it. */
export async function trustedKey(server: Pick<RunningServer, 'dataDir'>, name = 'release key'): Promise<ReleaseKeyPair> {
  const pair = generateKeyPair()
  const file = path.join(server.dataDir, `${pair.keyId}.pub`)
  fs.writeFileSync(file, pair.publicKeyPem)
  const r = await cli(['keys', 'trust', file, '--name', name], dataFolderEnv(server.dataDir))
  if (r.code !== 0) throw new Error(`keys trust failed (${r.code}): ${r.stderr}${r.stdout}`)
  return pair
}

/** PUT /v1/artifacts/<sha256 of bytes> (through inject for an app that does not listen); returns the digest. */
export async function uploadArtifact(server: Target, token: string, bytes: Buffer): Promise<string> {
  const sha256 = sha256Of(bytes)
  const url = `/v1/artifacts/${sha256}`
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }
  const [status, text] =
    server.url === undefined
      ? await server.app.inject({ method: 'PUT', url, headers, payload: bytes }).then((r) => [r.statusCode, r.body] as const)
      : await fetch(`${server.url}${url}`, { method: 'PUT', headers, body: bytes }).then(async (r) => [r.status, await r.text()] as const)
  if (status !== 201 && status !== 200) throw new Error(`upload answered ${status}: ${text}`)
  return sha256
}

export interface ReleaseFields {
  board?: string
  version: string
  sequence: number
  image: Buffer
  tag?: string
  commit?: string
  channel?: string
  notes?: string
  /** POST /v1/releases rollout_percent; the channel's policy when absent */
  rolloutPercent?: number
}

/**
 * A POST /v1/releases body signed over its own statement; `signed` overrides what the signature
 * covers. Tag and commit default to `prod-<version>` and a commit id derived from the version.
 */
export function releaseRequest(key: ReleaseKeyPair, fields: ReleaseFields, signed: Partial<Parameters<typeof buildReleaseStatement>[0]> = {}) {
  const facts = {
    board: fields.board ?? 'esp32cam',
    version: fields.version,
    sequence: fields.sequence,
    size: fields.image.length,
    sha256: sha256Of(fields.image),
    tag: fields.tag ?? `prod-${fields.version}`,
    commit: fields.commit ?? crypto.createHash('sha1').update(fields.version).digest('hex'),
  }
  const { size: _size, ...body } = facts
  return {
    ...body,
    signature: signStatement(buildReleaseStatement({ ...facts, ...signed }), key.privateKeyPem),
    key_id: key.keyId,
    ...(fields.channel === undefined ? {} : { channel: fields.channel }),
    ...(fields.notes === undefined ? {} : { notes: fields.notes }),
    ...(fields.rolloutPercent === undefined ? {} : { rollout_percent: fields.rolloutPercent }),
  }
}

/** The date a factory image's statement says it was built. */
export const FACTORY_BUILT_AT = '2026-11-27T10:00:00Z'

/** POST /v1/releases' `factory` field: a factory image's digest and its statement signed by `key`. */
export type FactoryField = { sha256: string; built_at: string; signature: string }

/**
 * A factory image merged around `app` the way esptool merge_bin lays it out (generated bootloader,
 * min_spiffs, boot_app0), uploaded, and the release's `factory` field signed for it.
 */
export async function uploadFactory(server: Target, token: string, key: ReleaseKeyPair, fields: { board?: string; version: string; app: Buffer }): Promise<{ image: Buffer; factory: FactoryField }> {
  const image = factoryImage({ app: fields.app })
  await uploadArtifact(server, token, image)
  const statement = buildFactoryStatement({ board: fields.board ?? 'esp32cam', version: fields.version, size: image.length, sha256: sha256Of(image), app_sha256: sha256Of(fields.app), built_at: FACTORY_BUILT_AT })
  return { image, factory: { sha256: sha256Of(image), built_at: FACTORY_BUILT_AT, signature: signStatement(statement, key.privateKeyPem) } }
}

/** Uploads the image (and a factory image around it) and posts its signed release; resolves to the server's answer, whatever it is. */
export async function uploadAndPost(server: Target, token: string, key: ReleaseKeyPair, fields: ReleaseFields, withFactory = false): Promise<JsonAnswer & { factory?: Buffer }> {
  await uploadArtifact(server, token, fields.image)
  const factory = withFactory ? await uploadFactory(server, token, key, { board: fields.board, version: fields.version, app: fields.image }) : undefined
  const answer = await call(server, 'POST', '/v1/releases', token, { ...releaseRequest(key, fields), ...(factory && { factory: factory.factory }) })
  return { ...answer, ...(factory && { factory: factory.image }) }
}

/** A releaser token and a trusted release key of one test server, made once and reused. */
export interface Publisher extends ReleaseKeyPair {
  token: string
}

const publishers = new WeakMap<PublishTarget, Promise<Publisher>>()

async function makePublisher(server: PublishTarget): Promise<Publisher> {
  const token = await createToken(server.dataDir, 'releaser', `releaser-${crypto.randomBytes(4).toString('hex')}`)
  return { token, ...(await trustedKey(server, 'test release key')) }
}

/**
 * A releaser token and a trusted release key in the PostgreSQL database at `url` (migrated by an
 * instance already), written through the repositories as the CLI writes them.
 */
export async function postgresPublisher(t: TestContext, url: string): Promise<Publisher> {
  const pool = openPostgres({ url, pool: 1 })
  t.teardown(() => pool.end())
  const repos = createPostgresRepositories(pool, systemClock)
  const pair = generateKeyPair()
  await repos.releaseKeys.trust({ key_id: pair.keyId, name: 'test release key', public_key_pem: pair.publicKeyPem })
  const token = await repos.tokens.create(`releaser-${crypto.randomBytes(4).toString('hex')}`, 'releaser')
  return { token, ...pair }
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

export interface PublishOptions extends Omit<ReleaseFields, 'image'> {
  /** the binary; by default a valid ESP32 image carrying `version` (see `imageSize`) */
  image?: Buffer
  /** approximate size of the default image */
  imageSize?: number
  /** the releaser token and trusted key to publish with; by default the server's, made with the CLI on its data folder */
  publisher?: Publisher
  /** a factory image merged around the app published with it (uploadFactory) */
  factory?: boolean
}

export interface PublishedRelease {
  /** the release as POST /v1/releases answered it */
  release: ReleaseView
  image: Buffer
  sha256: string
  md5: string
  publisher: Publisher
  /** the factory image published with it (option `factory`) */
  factory?: Buffer
}

/** Publishes a good release in one call; throws with the server's answer on refusal. */
export async function publishRelease(server: PublishTarget, opts: PublishOptions): Promise<PublishedRelease> {
  const publisher = opts.publisher ?? (await publisherOf(server))
  const image = opts.image ?? buildEspImage({ version: opts.version, seed: opts.sequence, ...(opts.imageSize === undefined ? {} : { size: opts.imageSize }) })
  const answer = await uploadAndPost(server, publisher.token, publisher, { ...opts, image }, opts.factory)
  if (answer.status !== 201) throw new Error(`POST /v1/releases answered ${answer.status}: ${JSON.stringify(answer.body)}`)
  const md5 = crypto.createHash('md5').update(image).digest('hex')
  return { release: answer.body as unknown as ReleaseView, image, sha256: sha256Of(image), md5, publisher, ...(answer.factory && { factory: answer.factory }) }
}
