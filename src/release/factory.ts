import { badRequest, Refusal, type ErrorCode } from '../errors'
import { isChipName } from '../esp/chips'
import { checkFactoryImage, FactoryImageError, type FactoryImageReason } from '../esp/factory-image'
import type { NewFactoryImage } from '../repositories/factory-images'
import type { NewRelease } from '../repositories/release-rows'
import type { ArtifactStore } from '../store/artifact-store'
import type { Repositories } from '../repositories'
import { buildFactoryStatement, isBuiltAt } from './factory-statement'
import { verifyStatement } from './keys'

/** The `factory` object of POST /v1/releases. */
export interface FactoryRequest {
  sha256: string
  built_at: string
  /** base64 DER ECDSA P-256/SHA-256 over the factory statement, by the release's own key */
  signature: string
}

/** Each refusal of the image checks has its own API code. */
export const FACTORY_REFUSALS: Readonly<Record<FactoryImageReason, ErrorCode>> = Object.freeze({
  bootloader_invalid: 'factory_bootloader_invalid',
  bootloader_chip_mismatch: 'factory_bootloader_chip_mismatch',
  partition_table_invalid: 'factory_partition_table_invalid',
  partition_table_md5_mismatch: 'factory_partition_table_md5_mismatch',
  no_otadata: 'factory_no_otadata',
  too_few_ota_slots: 'factory_too_few_ota_slots',
  ota_slot_too_small: 'factory_ota_slot_too_small',
  app_mismatch: 'factory_app_mismatch',
  too_large_for_flash: 'factory_too_large_for_flash',
})

export interface FactoryDeps {
  repos: Repositories
  artifacts: ArtifactStore
}

/**
 * Checks a release's factory image once the release itself has passed every check (so its board,
 * application and key are known good): stored, a merged flash image of this board carrying exactly
 * the release's application, and signed by the release's key over the factory statement. Returns
 * the row to record with the release; throws Refusal (400/404/422) naming what to fix.
 */
export async function validateFactoryImage(deps: FactoryDeps, factory: FactoryRequest, release: NewRelease): Promise<NewFactoryImage> {
  if (!isBuiltAt(factory.built_at)) {
    throw badRequest(`factory.built_at "${factory.built_at.slice(0, 40)}" is not a UTC time written YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-27T10:00:00Z)`)
  }
  const artifact = await deps.repos.artifacts.get(factory.sha256)
  if (!artifact || (await deps.artifacts.size(factory.sha256)) === undefined) {
    throw new Refusal('artifact_not_found', `no factory image ${factory.sha256} is stored: upload it first with PUT /v1/artifacts/${factory.sha256}`)
  }
  const board = await deps.repos.boards.get(release.board)
  if (!board || !isChipName(board.chip) || release.sha256 === null || release.key_id === null) {
    throw new Error(`release ${release.board}/${release.version} reached the factory image check without a board, binary or key`)
  }
  const image = await deps.artifacts.read(factory.sha256)
  let facts
  try {
    facts = checkFactoryImage(image, { board: board.name, chip: board.chip, slotSize: board.slot_size, app: await deps.artifacts.read(release.sha256) })
  } catch (err) {
    if (err instanceof FactoryImageError) throw new Refusal(FACTORY_REFUSALS[err.reason], `the factory image was refused: ${err.message}`)
    throw err
  }
  const statement = buildFactoryStatement({
    board: release.board,
    version: release.version,
    size: artifact.size,
    sha256: factory.sha256,
    app_sha256: release.sha256,
    built_at: factory.built_at,
  })
  const key = await deps.repos.releaseKeys.get(release.key_id)
  if (!key || !verifyStatement(statement, factory.signature, key.public_key_pem)) {
    throw new Refusal(
      'factory_signature_invalid',
      `factory.signature does not verify with key ${release.key_id} (the release's key) over the factory statement; sign exactly this text (ECDSA P-256/SHA-256, DER, base64):\n${statement}`
    )
  }
  return {
    sha256: factory.sha256,
    size: artifact.size,
    md5: artifact.md5,
    built_at: factory.built_at,
    signature: factory.signature,
    key_id: release.key_id,
    app_offset: facts.appPartition.offset,
    flash_size: facts.flashSize,
  }
}
