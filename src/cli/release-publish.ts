import crypto from 'node:crypto'
import { keyIdOf, ReleaseKeyError, signStatement } from '../release/keys'
import { buildReleaseStatement } from '../release/release-statement'
import type { ReleaseView } from '../schemas/release'
import { ApiRefusal, type ApiClient } from './api-client'
import { uploadArtifact } from './artifact-upload'
import { inspectImage, type BoardTarget, type ImageReport } from './image-report'
import { CliRefusal } from './io'
import type { Progress } from './progress'
import type { ReleaseSource } from './release-source'

export interface PublishInput {
  board: string
  bytes: Buffer
  privateKeyPem: string
  source: ReleaseSource
  channel?: string
  notes?: string
  rolloutPercent?: number
  progress: (total: number) => Progress
}

export interface PublishOutcome {
  /** false when an identical release was already there (a re-run after a cut) */
  published: boolean
  release: ReleaseView
  image: ImageReport
  /** how the artifact upload went: stored now, already stored, or not needed */
  upload: 'stored' | 'already_stored' | 'skipped'
}

function loadSigningKey(pem: string): { key: crypto.KeyObject; keyId: string } {
  let key: crypto.KeyObject
  try {
    key = crypto.createPrivateKey({ key: pem, format: 'pem' })
  } catch {
    throw new CliRefusal('--key is not a PEM private key: give the release private key (e.g. made with `openssl ecparam -name prime256v1 -genkey`)')
  }
  return { key, keyId: keyIdOf(key) }
}

/** Whether a release on the server is exactly the one being published. */
function isSameRelease(existing: ReleaseView, want: { board: string; version: string; sequence: number; sha256: string; tag: string; commit: string }): boolean {
  return (
    existing.board === want.board &&
    existing.version === want.version &&
    existing.sequence === want.sequence &&
    existing.sha256 === want.sha256 &&
    existing.tag === want.tag &&
    existing.commit === want.commit
  )
}

function describe(r: ReleaseView): string {
  return `sequence ${r.sequence}, ${r.sha256 ? `sha256 ${r.sha256.slice(0, 12)}…` : 'no binary (imported)'}, tag ${r.tag}, commit ${r.commit.slice(0, 12)}`
}

/**
 * Validates, signs, uploads and records a release. Safe to run again after a failure part-way:
 * the upload answers 200 for bytes already stored, and an identical existing release is reported
 * as already published rather than refused.
 */
export async function publishRelease(client: ApiClient, input: PublishInput): Promise<PublishOutcome> {
  const { board, bytes, source } = input
  const boardFacts = await client.get<BoardTarget>(`/v1/boards/${encodeURIComponent(board)}`)
  const image = inspectImage(bytes, boardFacts)
  if (image.problems.length > 0) throw new CliRefusal(image.problems.join('; '))

  const { key, keyId } = loadSigningKey(input.privateKeyPem)
  const facts = { board, version: source.version, sequence: source.sequence, size: bytes.length, sha256: image.sha256, tag: source.tag, commit: source.commit }
  let signature: string
  try {
    signature = signStatement(buildReleaseStatement(facts), key)
  } catch (err) {
    if (err instanceof ReleaseKeyError) throw new CliRefusal(`--key: ${err.message}`)
    throw err
  }

  const existingRelease = () => client.getOptional<ReleaseView>(`/v1/releases/${encodeURIComponent(board)}/${encodeURIComponent(source.version)}`)
  const already = await existingRelease()
  if (already) {
    if (isSameRelease(already, facts)) return { published: false, release: already, image, upload: 'skipped' }
    throw new CliRefusal(
      `board ${board} already has a release named ${source.version} (${describe(already)}): a codename is never reused; tag the build with a new codename`
    )
  }

  const progress = input.progress(bytes.length)
  const { status } = await uploadArtifact({ url: client.url(`/v1/artifacts/${image.sha256}`), token: client.token, body: bytes, progress })

  const body: Record<string, unknown> = {
    board,
    version: source.version,
    sequence: source.sequence,
    sha256: image.sha256,
    tag: source.tag,
    commit: source.commit,
    signature,
    key_id: keyId,
  }
  if (input.channel !== undefined) body.channel = input.channel
  if (input.notes !== undefined) body.notes = input.notes
  if (input.rolloutPercent !== undefined) body.rollout_percent = input.rolloutPercent
  const upload = status === 201 ? 'stored' : 'already_stored'
  try {
    return { published: true, release: await client.post<ReleaseView>('/v1/releases', body), image, upload }
  } catch (err) {
    // Another run (a retry started while this one was uploading) recorded the same release first.
    if (err instanceof ApiRefusal && err.status === 409) {
      const existing = await existingRelease()
      if (existing && isSameRelease(existing, facts)) return { published: false, release: existing, image, upload }
    }
    throw err
  }
}
