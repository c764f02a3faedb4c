import path from 'node:path'
import { AppError } from '../../errors'
import { DEFAULT_SEQUENCE_FILE, DEFAULT_VERSION_FILE, FirmwareRepoError, releaseHistory } from '../../release/firmware-repo'
import { GitError } from '../../release/git'
import { importLedger, type LedgerImportResult } from '../../release/ledger-import'
import { apiClient, serverOptions } from '../api-client'
import { withDataFolder } from '../data-folder'
import { CliRefusal, UsageError, print, table } from '../io'
import type { Command } from '../main'

const BOARD = /^[a-z0-9][a-z0-9_-]{0,31}$/

export const ledgerCommands: Command[] = [
  {
    name: 'ledger import',
    usage:
      'ledger import --board B [--repo DIR] [--version-file PATH] [--sequence-file PATH] [--tag-pattern GLOB] [--branch NAME] [--dry-run] [--json] [--server URL --token TOKEN]',
    summary:
      'record the releases published before ota-gate (prod-* tags on production) as historical releases without binaries; in the data folder, or through a server with --server or OTA_SERVER',
    options: {
      board: { type: 'string' },
      repo: { type: 'string' },
      'version-file': { type: 'string' },
      'sequence-file': { type: 'string' },
      'tag-pattern': { type: 'string' },
      branch: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      ...serverOptions,
    },
    async run({ values }, io) {
      const board = values.board as string | undefined
      if (!board || !BOARD.test(board)) throw new UsageError('--board must name a board (lowercase letters, digits, "_" or "-")')
      const repo = path.resolve(io.cwd, (values.repo as string | undefined) ?? '.')
      const tagPattern = (values['tag-pattern'] as string | undefined) ?? io.env.OTA_TAG_PATTERN ?? 'prod-*'
      const branch = (values.branch as string | undefined) ?? io.env.OTA_RELEASE_BRANCH ?? 'production'
      const dryRun = values['dry-run'] === true

      let history
      try {
        history = await releaseHistory(repo, {
          tagPattern,
          branch,
          versionFile: (values['version-file'] as string | undefined) ?? DEFAULT_VERSION_FILE,
          sequenceFile: (values['sequence-file'] as string | undefined) ?? DEFAULT_SEQUENCE_FILE,
        })
      } catch (err) {
        if (err instanceof FirmwareRepoError || err instanceof GitError) throw new CliRefusal(err.message)
        throw err
      }
      if (history.length === 0) {
        throw new CliRefusal(`no tag matching ${tagPattern} lies on ${branch} in ${repo}: nothing to import (check --repo, --tag-pattern and --branch)`)
      }

      let result: LedgerImportResult
      // Through a server when one is named (--server or OTA_SERVER, as for every server command), else the data folder.
      if (values.server !== undefined || io.env.OTA_SERVER) {
        const client = apiClient(values, io)
        result = await client.post<LedgerImportResult>('/v1/releases/import', { board, releases: history, dry_run: dryRun })
      } else {
        result = await withDataFolder(io, async (repos) => {
          try {
            return await importLedger(repos, { board, releases: history, dryRun, importedBy: 'ledger import (data folder)' })
          } catch (err) {
            if (err instanceof AppError) throw new CliRefusal(err.message)
            throw err
          }
        })
      }

      if (values.json) {
        print(io, JSON.stringify(result, null, 2))
        return
      }
      print(io, table(result.releases.map((r) => ({ ...r, commit: r.commit.slice(0, 12) })), ['tag', 'version', 'sequence', 'commit', 'status']))
      const verb = result.dry_run ? 'would import' : 'imported'
      print(io, `${verb} ${result.imported} historical release(s) of board ${result.board}; ${result.skipped} already recorded`)
    },
  },
]
