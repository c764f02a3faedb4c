import path from 'node:path'
import { Readable } from 'node:stream'
import { Refusal } from '../../errors'
import { importCurrentRelease, type CurrentImportResult } from '../../release/current-import'
import {
  DEFAULT_SEQUENCE_FILE,
  DEFAULT_VERSION_FILE,
  FirmwareRepoError,
  releaseHistory,
  type LeftOutTag,
  type ReleaseHistory,
} from '../../release/firmware-repo'
import { GitError } from '../../release/git'
import { importLedger, type LedgerImportResult } from '../../release/ledger-import'
import { nameFlag } from '../identifiers'
import { FsArtifactStore } from '../../store/fs-artifact-store'
import { apiClient, serverOptions } from '../api-client'
import { uploadArtifact } from '../artifact-upload'
import { matchCurrentBinary, readFieldManifest, type FieldManifestFields } from '../current-files'
import { withDataFolder } from '../data-folder'
import { releaseRules } from '../release-flags'
import { flag, flagList, printJson, readFlagFile, type FlagValues } from '../flags'
import { inspectImage, type BoardTarget } from '../image-report'
import { CliRefusal, UsageError, print, table, type CliIo } from '../io'
import type { Command } from '../command'
import { noProgress, progressBar } from '../progress'

// Binaries of the data folder's own import are read whole first; the server's limit is far above an ESP32 slot.
const MAX_BINARY = 16 * 1024 * 1024

/** --sequence TAG=N, repeatable. */
function sequenceOverrides(values: FlagValues): Map<string, number> {
  const map = new Map<string, number>()
  for (const text of flagList(values, 'sequence')) {
    const m = /^([^=\s]+)=([0-9]{1,10})$/.exec(text)
    const n = m ? Number(m[2]) : NaN
    if (!m || n < 1 || n > 4294967295) throw new UsageError(`--sequence takes TAG=N with N from 1 to 4294967295 (e.g. --sequence prod-bumble=3), not "${text}"`)
    map.set(m[1], n)
  }
  return map
}

/** The cut-over's two files, read and checked against each other. */
function currentFiles(io: CliIo, values: FlagValues): { fields: FieldManifestFields; bin: Buffer; sha256: string } | undefined {
  const json = flag(values, 'current-json')
  const bin = flag(values, 'current-bin')
  if (json === undefined && bin === undefined) return undefined
  if (json === undefined || bin === undefined) throw new UsageError('give both --current-json firmware.json and --current-bin firmware.app.bin')
  const fields = readFieldManifest(readFlagFile(io, values, 'current-json').toString('utf8'), 'current-json')
  const bytes = readFlagFile(io, values, 'current-bin')
  return { fields, bin: bytes, ...matchCurrentBinary(fields, bytes) }
}

function describeCurrent(c: CurrentImportResult): string {
  const verb = c.status === 'imported' ? 'imported' : c.status === 'would_import' ? 'would import' : 'already imported:'
  const origin =
    c.tag.startsWith('untagged-') ? 'no release tag of this version and sequence was found' : `tag ${c.tag}, commit ${c.commit.slice(0, 12)}`
  return `${verb} the release served today, ${c.version} (sequence ${c.sequence}) with its binary ${c.sha256.slice(0, 12)}…; provenance ${c.provenance} (${origin})`
}

/** The field manifest ota-gate answers from now on: the same fields, in the same order, as the static file. */
function fieldManifestLine(f: FieldManifestFields): string {
  return JSON.stringify({ version: f.version, sequence: f.sequence, app_md5: f.app_md5, app_size: f.app_size, allow_downgrade: f.allow_downgrade })
}

export const ledgerCommands: Command[] = [
  {
    name: 'ledger import',
    usage:
      'ledger import --board B [--repo DIR] [--skip TAG]... [--sequence TAG=N]... [--current-json firmware.json --current-bin firmware.app.bin] ' +
      '[--version-file PATH] [--sequence-file PATH] [--tag-pattern GLOB] [--branch NAME] [--dry-run] [--json] [--server URL --token TOKEN]',
    summary:
      'record the releases published before ota-gate (prod-* tags on production) as historical releases, and with --current-json/--current-bin the release served today with its binary, ' +
      'so /firmware.json answers the same from the cut-over; lists every tag left out and why; in the data folder, or through a server with --server or OTA_SERVER',
    options: {
      board: { type: 'string' },
      repo: { type: 'string' },
      skip: { type: 'string', multiple: true },
      sequence: { type: 'string', multiple: true },
      'current-json': { type: 'string' },
      'current-bin': { type: 'string' },
      'version-file': { type: 'string' },
      'sequence-file': { type: 'string' },
      'tag-pattern': { type: 'string' },
      branch: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      ...serverOptions,
    },
    async run({ values }, io) {
      const board = nameFlag(values, 'board')
      const { tagPattern, branch } = releaseRules(values, io)
      const dryRun = values['dry-run'] === true
      const sequences = sequenceOverrides(values)
      const skip = new Set(flagList(values, 'skip'))
      const current = currentFiles(io, values)
      // The history comes from a firmware repository: --repo, or the working folder when the
      // current release is not the only thing imported.
      const repoFlag = flag(values, 'repo')
      const repo = repoFlag !== undefined || current === undefined ? path.resolve(io.cwd, repoFlag ?? '.') : undefined
      if (repo === undefined && (skip.size > 0 || sequences.size > 0)) throw new UsageError('--skip and --sequence name tags of the history: give --repo DIR')

      let history: ReleaseHistory = { releases: [], leftOut: [] }
      if (repo !== undefined) {
        try {
          history = await releaseHistory(repo, {
            tagPattern,
            branch,
            versionFile: flag(values, 'version-file') ?? DEFAULT_VERSION_FILE,
            sequenceFile: flag(values, 'sequence-file') ?? DEFAULT_SEQUENCE_FILE,
            skip,
            sequences,
          })
        } catch (err) {
          if (err instanceof FirmwareRepoError || err instanceof GitError) throw new CliRefusal(err.message)
          throw err
        }
        if (history.releases.length === 0 && current === undefined) {
          const why = history.leftOut.length > 0 ? ` (${history.leftOut.length} left out, listed below)` : ''
          printLeftOut(io, history.leftOut)
          throw new CliRefusal(`no tag matching ${tagPattern} on ${branch} in ${repo} can be imported${why}: check --repo, --tag-pattern and --branch`)
        }
      }
      // The current release's tag: the one of the history with its version and sequence.
      const tagged = current && history.releases.find((r) => r.version === current.fields.version && r.sequence === current.fields.sequence)
      const currentRequest = current && {
        version: current.fields.version,
        sequence: current.fields.sequence,
        sha256: current.sha256,
        app_md5: current.fields.app_md5,
        app_size: current.fields.app_size,
        tag: tagged?.tag,
        commit: tagged?.commit,
      }

      let result: LedgerImportResult & { current?: CurrentImportResult }
      // Through a server when one is named (--server or OTA_SERVER, as for every server command), else the data folder.
      if (values.server !== undefined || io.env.OTA_SERVER) {
        const client = apiClient(values, io)
        if (current && currentRequest) {
          checkImageFor(current.bin, await client.get<BoardTarget>(`/v1/boards/${encodeURIComponent(board)}`))
          // Stored (not released) in a dry run too, so that the server checks it exactly as it would import it.
          const progress = values.json ? noProgress : progressBar(io.stderr, 'uploading firmware.app.bin', current.bin.length)
          await uploadArtifact({ url: client.url(`/v1/artifacts/${current.sha256}`), token: client.token, body: current.bin, progress })
        }
        result = await client.post('/v1/releases/import', { board, releases: history.releases, dry_run: dryRun, current: currentRequest })
      } else {
        result = await withDataFolder(io, async (repos, _db, dir) => {
          try {
            const found = await repos.boards.get(board)
            if (current && found) checkImageFor(current.bin, found)
            const ledger = await importLedger(repos, { board, releases: history.releases, dryRun, importedBy: 'ledger import (data folder)' })
            if (!current || !currentRequest) return ledger
            const artifacts = new FsArtifactStore(dir, { removeLeftovers: false })
            await repos.artifacts.record(await artifacts.put(current.sha256, Readable.from([current.bin]), MAX_BINARY))
            // The tag was read from this clone just now: it is checked there, as the server checks OTA_GIT_DIR.
            const config = { OTA_GIT_DIR: repo, OTA_RELEASE_BRANCH: branch, OTA_TAG_PATTERN: tagPattern }
            const imported = await importCurrentRelease({ repos, artifacts, config }, { ...currentRequest, board }, { importedBy: 'ledger import (data folder)', dryRun })
            return { ...ledger, current: imported }
          } catch (err) {
            if (err instanceof Refusal) throw new CliRefusal(`${err.message} (${err.code})`)
            throw err
          }
        })
      }
      if (values.json) return printJson(io, { ...result, left_out: history.leftOut })
      if (result.releases.length > 0) {
        print(io, table(result.releases.map((r) => ({ ...r, commit: r.commit.slice(0, 12) })), ['tag', 'version', 'sequence', 'commit', 'status']))
      }
      const verb = result.dry_run ? 'would import' : 'imported'
      print(io, `${verb} ${result.imported} historical release(s) of board ${result.board}; ${result.skipped} already recorded`)
      printLeftOut(io, history.leftOut)
      if (result.current && current) {
        print(io, describeCurrent(result.current))
        print(io, `/firmware.json ${result.dry_run ? 'would answer' : 'answers'} from now on: ${fieldManifestLine(current.fields)}`)
      }
    },
  },
]

/** Every tag left out, and why: nothing of the history is dropped silently. */
function printLeftOut(io: CliIo, leftOut: LeftOutTag[]): void {
  if (leftOut.length === 0) return
  print(io)
  print(io, `left out (${leftOut.length}):`)
  print(io, table(leftOut.map((l) => ({ ...l, commit: l.commit.slice(0, 12), why: l.message })), ['tag', 'commit', 'reason', 'why']))
}

/** The binary must be an image the board runs, checked before it is sent anywhere. */
function checkImageFor(bin: Buffer, board: BoardTarget): void {
  const report = inspectImage(bin, board)
  if (report.problems.length > 0) throw new CliRefusal(`--current-bin: ${report.problems.join('; ')}`)
}
