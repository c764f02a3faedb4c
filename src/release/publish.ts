import type { Config } from '../config'
import { conflict, notFound, unprocessable } from '../errors'
import { EspImageError, parseEspImage, type EspImage } from '../esp/esp-image'
import { chipName } from '../esp/chips'
import type { Repositories } from '../repositories'
import type { Board } from '../repositories/boards'
import { ReleaseConflict, type NewRelease, type Release } from '../repositories/releases'
import type { ArtifactStore } from '../store/artifact-store'
import type { NewFactoryImage } from '../repositories/factory-images'
import type { RolloutStart } from '../repositories/rollout-rows'
import { validateFactoryImage, type FactoryRequest } from './factory'
import { releaseImageFacts } from './image-facts'
import { ReleaseKeyError, verifyStatement } from './keys'
import { checkProvenance } from './provenance'
import { buildReleaseStatement } from './release-statement'
import { parseDuration } from '../fleet/duration'

/** What a release tool sends to POST /v1/releases. */
export interface PublishRequest {
  board: string
  version: string
  sequence: number
  sha256: string
  tag: string
  commit: string
  signature: string
  key_id: string
  channel?: string
  notes?: string
  /** the share of the channel's devices that get it at first; default: the channel's rollout policy */
  rollout_percent?: number
  /** the release's factory image (merged flash image for first flash), uploaded beforehand */
  factory?: FactoryRequest
}

export interface PublishDeps {
  repos: Repositories
  artifacts: ArtifactStore
  config: Pick<Config, 'OTA_GIT_DIR' | 'OTA_RELEASE_BRANCH' | 'OTA_TAG_PATTERN' | 'OTA_STALE_AFTER' | 'OTA_DEVICE_AUTH'>
}

export const DEFAULT_CHANNEL = 'stable'

const chipLabel = (id: number) => `${chipName(id) ?? 'unknown chip'} (chip id ${id})`

export async function requireBoard(deps: Pick<PublishDeps, 'repos'>, name: string): Promise<Board> {
  const board = await deps.repos.boards.get(name)
  if (board) return board
  const known = (await deps.repos.boards.list()).map((b) => b.name)
  throw notFound(
    'board_not_found',
    `board ${name} is not known (known: ${known.join(', ') || 'none'}): add it with \`ota-gate board add ${name} --chip CHIP --slot-size BYTES\``
  )
}

/** Reads the stored binary and checks it is an application image this board can run. */
export async function checkImage(deps: Pick<PublishDeps, 'repos' | 'artifacts'>, board: Board, sha256: string): Promise<{ image: EspImage; size: number; md5: string }> {
  const artifact = await deps.repos.artifacts.get(sha256)
  if (!artifact || (await deps.artifacts.size(sha256)) === undefined) {
    throw notFound('artifact_not_found', `no artifact ${sha256} is stored: upload the binary first with PUT /v1/artifacts/${sha256}`)
  }
  let image: EspImage
  try {
    image = parseEspImage(await deps.artifacts.read(sha256))
  } catch (err) {
    if (err instanceof EspImageError) {
      throw unprocessable('image_invalid', `the binary is not a valid ESP application image (${err.reason}): ${err.message}`)
    }
    throw err
  }
  if (image.chipId !== board.chip_id) {
    throw unprocessable(
      'chip_mismatch',
      `the image is built for ${chipLabel(image.chipId)}, but board ${board.name} is ${chipLabel(board.chip_id)}: build for ${board.chip} or publish to a board with that chip`
    )
  }
  if (artifact.size > board.slot_size) {
    throw unprocessable(
      'too_large_for_slot',
      `the image is ${artifact.size} bytes, ${artifact.size - board.slot_size} more than the ${board.slot_size}-byte OTA slot of board ${board.name}: make the build smaller`
    )
  }
  return { image, size: artifact.size, md5: artifact.md5 }
}

/** The named key must be trusted and current, and its signature must cover exactly these facts. */
async function checkSignature(deps: PublishDeps, req: PublishRequest, size: number): Promise<void> {
  const key = await deps.repos.releaseKeys.get(req.key_id)
  if (!key) {
    throw unprocessable('unknown_key', `release key ${req.key_id} is not trusted by this server: have an admin trust its public key with \`ota-gate keys trust KEY.pub\`, or sign with a trusted key`)
  }
  if (key.retired_at !== null) {
    throw unprocessable(
      'unknown_key',
      `release key ${req.key_id} ("${key.name}") was retired on ${new Date(key.retired_at).toISOString()} and no longer authorises releases: sign with a current key`
    )
  }
  const statement = buildReleaseStatement({ ...req, size })
  let valid: boolean
  try {
    valid = verifyStatement(statement, req.signature, key.public_key_pem)
  } catch (err) {
    if (err instanceof ReleaseKeyError) throw unprocessable('unknown_key', `release key ${req.key_id} cannot verify signatures: ${err.message}`)
    throw err
  }
  if (!valid) {
    throw unprocessable(
      'signature_invalid',
      `the signature does not verify with key ${req.key_id} over the release statement of this request; sign exactly this text (ECDSA P-256/SHA-256, DER, base64):\n${statement}`
    )
  }
}

/**
 * Runs every check of a publish, in the contract's order, and returns the release to record.
 * Throws AppError (404/422) naming the first check that fails and what to do about it.
 */
export async function validateRelease(deps: PublishDeps, req: PublishRequest, publishedBy: string): Promise<NewRelease> {
  const board = await requireBoard(deps, req.board)
  const { image, size, md5 } = await checkImage(deps, board, req.sha256)
  await checkSignature(deps, req, size)
  const provenance = await checkProvenance(
    { tag: req.tag, commit: req.commit },
    { tagPattern: deps.config.OTA_TAG_PATTERN, releaseBranch: deps.config.OTA_RELEASE_BRANCH, gitDir: deps.config.OTA_GIT_DIR }
  )
  if (!provenance.ok) throw unprocessable('provenance_failed', provenance.message)
  return {
    board: board.name,
    channel: req.channel ?? DEFAULT_CHANNEL,
    version: req.version,
    sequence: req.sequence,
    sha256: req.sha256,
    size,
    md5,
    tag: req.tag,
    commit_sha: req.commit,
    signature: req.signature,
    key_id: req.key_id,
    provenance: provenance.provenance,
    ...releaseImageFacts(image),
    notes: req.notes ?? null,
    published_by: publishedBy,
  }
}

/**
 * Records a release after validateRelease, with its rollout; conflicts with existing releases become 409s. A version
 * counts as in the field when a device seen within the stale window reports it, and that device
 * proved who it is unless device credentials are off: one unproven poll cannot block a name.
 */
export async function recordRelease(
  deps: Pick<PublishDeps, 'repos' | 'config'>,
  release: NewRelease,
  rollout: RolloutStart,
  factory?: NewFactoryImage
): Promise<Release> {
  // loadConfig has checked that OTA_STALE_AFTER reads as a duration.
  const fieldSeenSince = Date.now() - (parseDuration(deps.config.OTA_STALE_AFTER) as number)
  try {
    return await deps.repos.releases.insert(release, { fieldSeenSince, onlyVerified: deps.config.OTA_DEVICE_AUTH !== 'off', factory, rollout })
  } catch (err) {
    if (err instanceof ReleaseConflict) throw conflict(err.code, err.message)
    throw err
  }
}

/** Validates and records a release and starts its rollout; the whole of POST /v1/releases but the HTTP. */
export async function publishRelease(deps: PublishDeps, req: PublishRequest, publishedBy: string): Promise<Release> {
  const valid = await validateRelease(deps, req, publishedBy)
  const factory = req.factory === undefined ? undefined : await validateFactoryImage(deps, req.factory, valid)
  return recordRelease(deps, valid, { percent: req.rollout_percent, who: { actor: publishedBy, reason: null } }, factory)
}

