import type { Config } from '../config'
import { AppError, conflict, unprocessable } from '../errors'
import type { Repositories } from '../repositories'
import { HistoryConflict } from '../repositories/release-history'
import type { Release } from '../repositories/releases'
import type { ArtifactStore } from '../store/artifact-store'
import { releaseImageFacts } from './image-facts'
import { HISTORY_CHANNEL } from './ledger-import'
import { checkProvenance } from './provenance'
import { checkImage, requireBoard } from './publish'

// Cut-over: the release the field fleet is served today as static files (firmware.json and
// firmware.app.bin) becomes a release of ota-gate with its binary, so that /firmware.json answers
// from the first minute what the static file answered, and the next release follows it.

/** The static firmware.json being replaced, and the stored binary it describes. */
export interface CurrentRelease {
  board: string
  version: string
  sequence: number
  /** the stored firmware.app.bin */
  sha256: string
  /** firmware.json's own figures, which the binary must match */
  app_md5: string
  app_size: number
  /** the prod-* tag of this version and sequence found in the firmware repository, if any */
  tag?: string
  commit?: string
}

export type CurrentStatus = 'imported' | 'would_import' | 'already_imported'

export interface CurrentImportResult {
  status: CurrentStatus
  version: string
  sequence: number
  tag: string
  commit: string
  provenance: Release['provenance']
  sha256: string
}

export interface CurrentImportDeps {
  repos: Repositories
  artifacts: ArtifactStore
  config: Pick<Config, 'OTA_GIT_DIR' | 'OTA_RELEASE_BRANCH' | 'OTA_TAG_PATTERN'>
}

/** Without a release tag the build cannot be traced to a commit: the tag says so, the commit is all zeros. */
export const UNTAGGED_COMMIT = '0'.repeat(40)
export const untaggedTag = (version: string) => `untagged-${version}`

/**
 * Checks the stored binary against firmware.json (MD5 and size) and the board (a valid image for
 * its chip and slot), then records it as the release served today: the historical row of that
 * version gets its binary, or a row is added; its rollout starts at 100% so that /firmware.json
 * offers it at once (with dryRun, everything is checked and nothing written). Provenance `verified` or `attested` by the same rule as a publish when a tag
 * is given, `attested` without one. Running it again with the same binary changes nothing.
 */
export async function importCurrentRelease(
  deps: CurrentImportDeps,
  req: CurrentRelease,
  options: { importedBy: string; dryRun: boolean }
): Promise<CurrentImportResult> {
  const { importedBy } = options
  const board = await requireBoard(deps, req.board)
  const { image, size, md5 } = await checkImage(deps, board, req.sha256)
  if (md5 !== req.app_md5 || size !== req.app_size) {
    throw unprocessable(
      'current_mismatch',
      `the binary (MD5 ${md5}, ${size} bytes) is not the one firmware.json describes (app_md5 ${req.app_md5}, app_size ${req.app_size}): ` +
        'give the firmware.app.bin served beside that firmware.json'
    )
  }

  let tag = untaggedTag(req.version)
  let commit = UNTAGGED_COMMIT
  let provenance: Release['provenance'] = 'attested'
  if (req.tag !== undefined && req.commit !== undefined) {
    const checked = await checkProvenance(
      { tag: req.tag, commit: req.commit },
      { tagPattern: deps.config.OTA_TAG_PATTERN, releaseBranch: deps.config.OTA_RELEASE_BRANCH, gitDir: deps.config.OTA_GIT_DIR }
    )
    if (!checked.ok) throw unprocessable('provenance_failed', `${req.tag}: ${checked.message}`)
    ;({ tag, commit, provenance } = { tag: req.tag, commit: req.commit, provenance: checked.provenance })
  }

  const releases = await deps.repos.releases.list({ board: board.name })
  const existing = releases.find((r) => r.version === req.version)
  const result = (status: CurrentStatus, r: Release): CurrentImportResult => ({
    status,
    version: r.version,
    sequence: r.sequence,
    tag: r.tag,
    commit: r.commit_sha,
    provenance: r.provenance,
    sha256: req.sha256,
  })
  if (existing?.sha256 === req.sha256 && existing.sequence === req.sequence) return result('already_imported', existing)
  if (existing && (existing.sha256 !== null || existing.sequence !== req.sequence)) {
    throw conflict(
      'version_exists',
      `board ${board.name} already has a release ${existing.version} (sequence ${existing.sequence}, ${existing.sha256 ? `binary ${existing.sha256.slice(0, 12)}…` : 'no binary'}), ` +
        `which is not the one firmware.json describes (sequence ${req.sequence}, binary ${req.sha256.slice(0, 12)}…): check that the files are the ones served today`
    )
  }
  const newer = releases.find((r) => r.sha256 !== null && r.sequence > req.sequence)
  if (newer) {
    throw conflict(
      'sequence_not_increasing',
      `release ${newer.version} (sequence ${newer.sequence}) is newer than firmware.json's ${req.version} (sequence ${req.sequence}) and already served: the cut-over import is for the release served before ota-gate`
    )
  }

  if (options.dryRun) {
    return { status: 'would_import', version: req.version, sequence: req.sequence, tag: existing?.tag ?? tag, commit: existing?.commit_sha ?? commit, provenance, sha256: req.sha256 }
  }
  let release: Release
  try {
    release = await deps.repos.history.recordCurrent(
      {
        board: board.name,
        channel: HISTORY_CHANNEL,
        version: req.version,
        sequence: req.sequence,
        sha256: req.sha256,
        size,
        md5,
        tag: existing?.tag ?? tag,
        commit_sha: existing?.commit_sha ?? commit,
        signature: null,
        key_id: null,
        provenance,
        ...releaseImageFacts(image),
        notes: 'the release served as static files before ota-gate (imported at cut-over)',
        published_by: importedBy,
      },
      existing?.id,
      // Devices without an id (the field fleet) get only releases rolled out to everyone.
      { percent: 100, who: { actor: importedBy, reason: 'cut-over: the release served before ota-gate' } }
    )
  } catch (err) {
    if (err instanceof HistoryConflict) throw new AppError(409, 'import_conflict', `nothing was imported: ${err.message}`)
    throw err
  }
  return result('imported', release)
}
