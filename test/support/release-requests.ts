import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { generateKeyPair, signStatement, type ReleaseKeyPair } from '../../src/release/keys'
import { buildReleaseStatement } from '../../src/release/release-statement'
import { cli, type RunningServer, dataFolderEnv } from './server'

// Building blocks of POST /v1/releases for tests that need to get each part right or wrong on
// purpose (test/support/publish.ts publishes a good release in one call).

export const sha256Of = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex')

/** A fresh P-256 key trusted on the server's data folder through the CLI, as an admin does it. */
export async function trustedKey(server: RunningServer, name = 'release key'): Promise<ReleaseKeyPair> {
  const pair = generateKeyPair()
  const file = path.join(server.dataDir, `${pair.keyId}.pub`)
  fs.writeFileSync(file, pair.publicKeyPem)
  const r = await cli(['keys', 'trust', file, '--name', name], dataFolderEnv(server.dataDir))
  if (r.code !== 0) throw new Error(`keys trust failed: ${r.stderr}`)
  return pair
}

/** PUT /v1/artifacts/<sha256 of bytes>; returns the digest. */
export async function uploadArtifact(server: RunningServer, token: string, bytes: Buffer): Promise<string> {
  const sha256 = sha256Of(bytes)
  const res = await fetch(`${server.url}/v1/artifacts/${sha256}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  })
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload answered ${res.status}: ${await res.text()}`)
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
}

/** A POST /v1/releases body signed over its own statement; `signed` overrides what the signature covers. */
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
  }
}

export interface Answer<T = Record<string, unknown>> {
  status: number
  body: T
}

export async function postRelease(server: RunningServer, token: string | undefined, body: unknown): Promise<Answer> {
  const res = await fetch(`${server.url}/v1/releases`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Uploads the image and posts its signed release. */
export async function uploadAndPost(server: RunningServer, token: string, key: ReleaseKeyPair, fields: ReleaseFields): Promise<Answer> {
  await uploadArtifact(server, token, fields.image)
  return postRelease(server, token, releaseRequest(key, fields))
}
