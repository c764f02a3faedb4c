import { DEFAULT_CHANNEL } from '../schemas/common'
import { Refusal } from '../errors'
import type { Repositories } from '../repositories'
import { HistoryConflict } from '../repositories/release-history'
import type { Release } from '../repositories/release-rows'
import { requireBoard } from '../fleet/known-board'

// Releases published before ota-gate (static firmware.json files) become historical releases:
// no binary, provenance `imported`, channel `stable`. They count for the sequence, version and tag
// rules like any release, so the first release published through ota-gate cannot repeat a
// codename or a sequence the field fleet already has. Shared by `ledger import` (data folder) and
// POST /v1/releases/import.

/** Historical releases go to the channel devices poll by default. */
export const HISTORY_CHANNEL = DEFAULT_CHANNEL

/** One release of the past: a tag on the release branch and what the firmware said at its commit. */
export interface HistoricalRelease {
  tag: string
  commit: string
  version: string
  sequence: number
}

export type ImportStatus = 'imported' | 'would_import' | 'already_imported' | 'already_published'

export interface ImportOutcome extends HistoricalRelease {
  status: ImportStatus
}

export interface LedgerImportResult {
  board: string
  dry_run: boolean
  /** in the order given (the release branch's history, oldest first) */
  releases: ImportOutcome[]
  /** how many were (or, with dry_run, would be) recorded now */
  imported: number
  /** how many were already there, identical */
  skipped: number
}

export interface LedgerImportRequest {
  board: string
  /** oldest first along the release branch */
  releases: HistoricalRelease[]
  dryRun: boolean
  /** who imports (a token name, or the operator at the data folder), kept as published_by */
  importedBy: string
}

/** Refusals of an import name every problem at once, so one fix-and-rerun is enough. */
export function importConflict(problems: string[]): Refusal {
  const list = problems.map((p) => `\n  - ${p}`).join('')
  return new Refusal('import_conflict',
    `nothing was imported; each problem below says how to get past it (--skip TAG leaves a tag out, --sequence TAG=N corrects its sequence; docs/migration.md):${list}`
  )
}

/** Problems within the history itself: duplicated tags, versions or sequences, and sequences going down. */
function historyProblems(releases: HistoricalRelease[]): string[] {
  const problems: string[] = []
  const byKey = (key: 'tag' | 'version' | 'sequence') => {
    const seen = new Map<string | number, string[]>()
    for (const r of releases) seen.set(r[key], [...(seen.get(r[key]) ?? []), r.tag])
    return [...seen].filter(([, tags]) => tags.length > 1)
  }
  for (const [tag] of byKey('tag')) problems.push(`tag ${tag} is listed more than once`)
  for (const [sequence, tags] of byKey('sequence')) {
    const later = tags[tags.length - 1]
    problems.push(
      `tags ${tags.join(', ')} all have sequence ${sequence}: each release needs its own sequence; give the one it really had with --sequence ${later}=N, or leave it out with --skip ${later}`
    )
  }
  for (const [version, tags] of byKey('version')) {
    const later = tags[tags.length - 1]
    problems.push(`version ${version} is used by tags ${tags.join(', ')}: a codename is never reused; leave the one devices never ran out with --skip ${later}`)
  }
  let highest: HistoricalRelease | undefined
  for (const r of releases) {
    if (highest && r.sequence < highest.sequence) {
      problems.push(
        `sequence goes down along the release branch: ${r.tag} (sequence ${r.sequence}) comes after ${highest.tag} (sequence ${highest.sequence}); ` +
          `correct it with --sequence ${r.tag}=N or leave it out with --skip ${r.tag}`
      )
    }
    if (!highest || r.sequence > highest.sequence) highest = r
  }
  return problems
}

const same = (r: HistoricalRelease, e: Release) =>
  e.version === r.version && e.sequence === r.sequence && e.tag === r.tag && e.commit_sha === r.commit

/** Where a historical release meets the releases already recorded: identical (skip) or in conflict. */
function compareWithExisting(r: HistoricalRelease, existing: Release[]): { match?: Release; problems: string[] } {
  const match = existing.find((e) => same(r, e))
  if (match) return { match, problems: [] }
  const problems: string[] = []
  const describe = (e: Release) => `release ${e.version} (sequence ${e.sequence}, tag ${e.tag}, commit ${e.commit_sha.slice(0, 12)})`
  for (const e of existing) {
    const clashes = [
      e.version === r.version && `version ${r.version}`,
      e.sequence === r.sequence && `sequence ${r.sequence}`,
      e.tag === r.tag && `tag ${r.tag}`,
    ].filter(Boolean)
    if (clashes.length > 0) problems.push(`${r.tag}: ${clashes.join(', ')} already belong(s) to ${describe(e)}; leave it out with --skip ${r.tag}`)
  }
  return { problems }
}

/**
 * Checks the whole history, then records what is new in one transaction (all or nothing). A release
 * already recorded identically is skipped, so running the import again changes nothing. Throws
 * Refusal 404 for an unknown board, 409 import_conflict listing every problem.
 */
export async function importLedger(repos: Repositories, request: LedgerImportRequest): Promise<LedgerImportResult> {
  const { board, releases, dryRun } = request
  await requireBoard(repos, board)
  const existing = await repos.releases.list({ board })
  const problems = historyProblems(releases)
  const outcomes: ImportOutcome[] = []
  for (const r of releases) {
    const { match, problems: clashes } = compareWithExisting(r, existing)
    problems.push(...clashes)
    const status: ImportStatus = match ? (match.provenance === 'imported' ? 'already_imported' : 'already_published') : dryRun ? 'would_import' : 'imported'
    outcomes.push({ ...r, status })
  }
  if (problems.length > 0) throw importConflict(problems)

  const fresh = outcomes.filter((o) => o.status === 'imported' || o.status === 'would_import')
  if (!dryRun && fresh.length > 0) {
    try {
      await repos.history.record(
        fresh.map((r) => ({ board, channel: HISTORY_CHANNEL, tag: r.tag, commit: r.commit, version: r.version, sequence: r.sequence })),
        request.importedBy
      )
    } catch (err) {
      if (err instanceof HistoryConflict) throw importConflict([`${err.message}: run the import again to see which`])
      throw err
    }
  }
  return { board, dry_run: dryRun, releases: outcomes, imported: fresh.length, skipped: outcomes.length - fresh.length }
}
