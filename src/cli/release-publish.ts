import crypto from 'node:crypto'
import { buildFactoryStatement } from '../release/factory-statement'
import { keyIdOf, ReleaseKeyError, signStatement } from '../release/keys'
import { buildReleaseStatement } from '../release/release-statement'
import type { ReleaseView } from '../schemas/release'
import { ApiRefusal, type ApiClient } from './api-client'
import { uploadArtifact } from './artifact-upload'
import { inspectFactoryImage, type FactoryReport } from './factory-report'
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
  /** the factory image (esptool merge_bin output) and its build time (YYYY-MM-DDTHH:MM:SSZ) */
  factory?: { bytes: Buffer; builtAt: string }
  progress: (total: number) => Progress
  /** told what the image is once it has been checked, before anything is signed or sent */
  checked?: (image: ImageReport) => void
}

/** What the server answers to POST /v1/releases beyond the release: where first flash stands. */
export interface FirstFlashAnswer {
  release: { version: string; sequence: number; sha256: string; md5: string; built_at: string } | null
  this_release: boolean
  note: string
}

export interface PublishOutcome {
  /** false when an identical release was already there (a re-run after a cut) */
  published: boolean
  release: ReleaseView
  image: ImageReport
  /** how the artifact upload went: stored now, already stored, or not needed */
  upload: 'stored' | 'already_stored' | 'skipped'
  /** the factory image's report, when one was given */
  factory?: FactoryReport
  /** the server's account of first flash after this publish (absent when nothing was published) */
  firstFlash?: FirstFlashAnswer
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

function signed(statement: string, key: crypto.KeyObject): string {
  try {
    return signStatement(statement, key)
  } catch (err) {
    if (err instanceof ReleaseKeyError) throw new CliRefusal(`--key: ${err.message}`)
    throw err
  }
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
  input.checked?.(image)

  // The factory image is checked as the server will, before anything is signed or uploaded.
  const factory = input.factory === undefined ? undefined : inspectFactoryImage(input.factory.bytes, boardFacts, bytes)
  if (factory && factory.problems.length > 0) throw new CliRefusal(`--factory: the server would refuse this factory image: ${factory.problems.join('; ')}`)

  const { key, keyId } = loadSigningKey(input.privateKeyPem)
  const facts = { board, version: source.version, sequence: source.sequence, size: bytes.length, sha256: image.sha256, tag: source.tag, commit: source.commit }
  const signature = signed(buildReleaseStatement(facts), key)

  const existingRelease = () => client.getOptional<ReleaseView>(`/v1/releases/${encodeURIComponent(board)}/${encodeURIComponent(source.version)}`)
  const sameFactory = (r: ReleaseView) => (r.factory?.sha256 ?? null) === (factory?.sha256 ?? null)
  const already = await existingRelease()
  if (already) {
    if (isSameRelease(already, facts) && sameFactory(already)) return { published: false, release: already, image, upload: 'skipped', factory }
    if (isSameRelease(already, facts)) {
      throw new CliRefusal(
        `${board} ${source.version} is already published ${already.factory ? `with factory image ${already.factory.sha256.slice(0, 12)}…` : 'without a factory image'}: ` +
          "a release's factory image is recorded with it and never changed; publish the next build with --factory"
      )
    }
    throw new CliRefusal(
      `board ${board} already has a release named ${source.version} (${describe(already)}): a codename is never reused; tag the build with a new codename`
    )
  }

  // A binary that is already another release is refused by the server (binary_exists): say so
  // before sending megabytes over a slow link, not after.
  const { releases } = await client.get<{ releases: ReleaseView[] }>('/v1/releases', { board })
  const sameBinary = releases.find((r) => r.sha256 === image.sha256)
  if (sameBinary) {
    throw new ApiRefusal(
      409,
      'binary_exists',
      `this binary (${image.sha256}) is already release ${sameBinary.version} of board ${board} (${describe(sameBinary)}): a new release needs a new build; nothing was uploaded`
    )
  }

  const progress = input.progress(bytes.length)
  const { status } = await uploadArtifact({ url: client.url(`/v1/artifacts/${image.sha256}`), token: client.token, body: bytes, progress })
  if (input.factory && factory) {
    const body = input.factory.bytes
    await uploadArtifact({ url: client.url(`/v1/artifacts/${factory.sha256}`), token: client.token, body, progress: input.progress(body.length) })
  }

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
  if (input.factory && factory) {
    const statement = buildFactoryStatement({
      board,
      version: source.version,
      size: factory.size,
      sha256: factory.sha256,
      app_sha256: image.sha256,
      built_at: input.factory.builtAt,
    })
    body.factory = { sha256: factory.sha256, built_at: input.factory.builtAt, signature: signed(statement, key) }
  }
  const upload = status === 201 ? 'stored' : 'already_stored'
  try {
    const { first_flash: firstFlash, ...release } = await client.post<ReleaseView & { first_flash: FirstFlashAnswer }>('/v1/releases', body)
    return { published: true, release, image, upload, factory, firstFlash }
  } catch (err) {
    // Another run (a retry started while this one was uploading) recorded the same release first.
    if (err instanceof ApiRefusal && err.status === 409) {
      const existing = await existingRelease()
      if (existing && isSameRelease(existing, facts) && sameFactory(existing)) return { published: false, release: existing, image, upload, factory }
    }
    throw err
  }
}
