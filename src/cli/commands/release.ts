import fs from 'node:fs'
import path from 'node:path'
import { chipId, CHIP_NAMES } from '../../esp/chips'
import { checkSequence, checkVersion, FirmwareRepoError } from '../../release/firmware-repo'
import { GitError } from '../../release/git'
import { formatBuiltAt, isBuiltAt } from '../../release/factory-statement'
import { DEFAULT_TAG_PATTERN } from '../../release/provenance'
import type { ReleaseView } from '../../schemas/release'
import { apiClient, serverOptions } from '../api-client'
import { formatFactoryReport, inspectFactoryImage } from '../factory-report'
import { formatImageReport, inspectImage, type BoardTarget } from '../image-report'
import { CliRefusal, UsageError, print, table, type CliIo } from '../io'
import type { Command } from '../main'
import { noProgress, progressBar } from '../progress'
import { publishRelease, type PublishOutcome } from '../release-publish'
import { resolveReleaseSource } from '../release-source'

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/

type Values = Record<string, string | boolean | string[] | undefined>
const str = (values: Values, name: string) => values[name] as string | undefined

function requiredName(values: Values, flag: string): string {
  const value = str(values, flag)
  if (!value || !NAME.test(value)) throw new UsageError(`--${flag} must be a ${flag} name (lowercase letters, digits, "_" or "-")`)
  return value
}

function readInput(io: CliIo, values: Values, flag: string): Buffer {
  const file = str(values, flag)
  if (!file) throw new UsageError(`--${flag} is required`)
  try {
    return fs.readFileSync(path.resolve(io.cwd, file))
  } catch (err) {
    throw new UsageError(`--${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
}

/**
 * The factory image of --factory and its build time: --built-at, or else when the build wrote the
 * file (its modification time), to the second in UTC.
 */
function readFactory(io: CliIo, values: Values): { bytes: Buffer; builtAt: string } | undefined {
  const builtAt = str(values, 'built-at')
  if (str(values, 'factory') === undefined) {
    if (builtAt !== undefined) throw new UsageError('--built-at goes with --factory')
    return undefined
  }
  if (builtAt !== undefined && !isBuiltAt(builtAt)) throw new UsageError('--built-at must be a UTC time written YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-27T10:00:00Z)')
  const bytes = readInput(io, values, 'factory')
  return { bytes, builtAt: builtAt ?? formatBuiltAt(fs.statSync(path.resolve(io.cwd, str(values, 'factory') as string)).mtime) }
}

/** Flags checked for form up front: a malformed one is a usage error, not a refusal. */
function flagForms(values: Values): { version?: string; sequence?: number; rollout?: number } {
  for (const [a, b] of [['version', 'version-file'], ['sequence', 'sequence-file']]) {
    if (values[a] !== undefined && values[b] !== undefined) throw new UsageError(`give --${a} or --${b}, not both`)
  }
  const channel = str(values, 'channel')
  if (channel !== undefined && !NAME.test(channel)) throw new UsageError('--channel must be a channel name (lowercase letters, digits, "_" or "-")')
  const rolloutText = str(values, 'rollout')
  if (rolloutText !== undefined && !/^(100|[1-9]?[0-9])$/.test(rolloutText)) throw new UsageError('--rollout must be a whole percentage from 0 to 100')
  try {
    const versionText = str(values, 'version')
    const sequenceText = str(values, 'sequence')
    return {
      version: versionText === undefined ? undefined : checkVersion(versionText.trim(), '--version'),
      sequence: sequenceText === undefined ? undefined : checkSequence(sequenceText.trim(), '--sequence'),
      rollout: rolloutText === undefined ? undefined : Number(rolloutText),
    }
  } catch (err) {
    if (err instanceof FirmwareRepoError) throw new UsageError(err.message)
    throw err
  }
}

/** Git and repository failures are refusals with git's own words. */
async function fromRepo<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof FirmwareRepoError || err instanceof GitError) throw new CliRefusal(err.message)
    throw err
  }
}

function printPublished(io: CliIo, outcome: PublishOutcome, url: string): void {
  const r = outcome.release
  print(io, outcome.published ? `published ${r.board} ${r.version}` : `already published: ${r.board} ${r.version} is on the server, identical; nothing to do`)
  const rows: Array<[string, string]> = [
    ['board', r.board],
    ['channel', r.channel],
    ['version', r.version],
    ['sequence', String(r.sequence)],
    ['size', `${r.size} bytes`],
    ['sha256', r.sha256 ?? '-'],
    ['md5', r.md5 ?? '-'],
    ['url', url],
    ['provenance', `${r.provenance} (tag ${r.tag}, commit ${r.commit})`],
    ['key', r.key_id ?? '-'],
  ]
  if (r.factory) rows.push(['factory', `${r.factory.size} bytes, sha256 ${r.factory.sha256}, md5 ${r.factory.md5}, built ${r.factory.built_at}`])
  if (outcome.firstFlash) rows.push(['first flash', outcome.firstFlash.note])
  for (const [k, v] of rows) print(io, `  ${(k + ':').padEnd(13)}${v}`)
}

const publish: Command = {
  name: 'release publish',
  usage:
    'release publish --board B --file APP.bin [--factory MERGED.bin [--built-at TIME]] --key PRIVATE.pem [--server URL --token TOKEN] [--repo DIR] [--tag T] [--tag-pattern GLOB] [--branch NAME] ' +
    '[--version V | --version-file PATH] [--sequence N | --sequence-file PATH] [--channel C] [--notes TEXT] [--rollout N] [--json]',
  summary:
    'sign and publish a build of the prod-* tag at HEAD of the firmware repository (on production, clean tree); safe to re-run after a failure',
  options: {
    board: { type: 'string' },
    file: { type: 'string' },
    factory: { type: 'string' },
    'built-at': { type: 'string' },
    key: { type: 'string' },
    repo: { type: 'string' },
    tag: { type: 'string' },
    'tag-pattern': { type: 'string' },
    branch: { type: 'string' },
    version: { type: 'string' },
    'version-file': { type: 'string' },
    sequence: { type: 'string' },
    'sequence-file': { type: 'string' },
    channel: { type: 'string' },
    notes: { type: 'string' },
    rollout: { type: 'string' },
    json: { type: 'boolean' },
    ...serverOptions,
  },
  async run({ values }, io) {
    const board = requiredName(values, 'board')
    const forms = flagForms(values)
    const bytes = readInput(io, values, 'file')
    const factory = readFactory(io, values)
    const privateKeyPem = readInput(io, values, 'key').toString('utf8')
    const client = apiClient(values, io)
    const tagPattern = str(values, 'tag-pattern') ?? io.env.OTA_TAG_PATTERN ?? DEFAULT_TAG_PATTERN
    const branch = str(values, 'branch') ?? io.env.OTA_RELEASE_BRANCH ?? 'production'

    const source = await fromRepo(() =>
      resolveReleaseSource({
        repo: path.resolve(io.cwd, str(values, 'repo') ?? '.'),
        tag: str(values, 'tag'),
        tagPattern,
        branch,
        version: forms.version,
        versionFile: str(values, 'version-file'),
        sequence: forms.sequence,
        sequenceFile: str(values, 'sequence-file'),
      })
    )
    const json = values.json === true
    const outcome = await publishRelease(client, {
      board,
      bytes,
      privateKeyPem,
      source,
      channel: str(values, 'channel'),
      notes: str(values, 'notes'),
      rolloutPercent: forms.rollout,
      factory,
      progress: (total) => (json ? noProgress : progressBar(io.stderr, 'uploading', total)),
    })
    const url = client.url(`/v1/firmware/${outcome.image.sha256}.bin`).href
    if (json) {
      print(
        io,
        JSON.stringify(
          {
            status: outcome.published ? 'published' : 'already_published',
            upload: outcome.upload,
            url,
            release: outcome.release,
            ...(outcome.firstFlash ? { first_flash: outcome.firstFlash } : {}),
          },
          null,
          2
        )
      )
    } else {
      printPublished(io, outcome, url)
    }
  },
}

async function boardTarget(io: CliIo, values: Values, board: string): Promise<BoardTarget> {
  const chip = str(values, 'chip')
  const slot = str(values, 'slot-size')
  if (chip === undefined && slot === undefined) {
    return apiClient(values, io).get<BoardTarget>(`/v1/boards/${encodeURIComponent(board)}`)
  }
  if (chip === undefined || slot === undefined) throw new UsageError('give both --chip and --slot-size to check offline, or --server to ask the server')
  const id = chipId(chip)
  if (id === undefined) throw new UsageError(`--chip must be one of ${CHIP_NAMES.join(', ')}`)
  if (!/^[1-9][0-9]{0,9}$/.test(slot)) throw new UsageError('--slot-size must be a number of bytes (e.g. 1966080 for the min_spiffs app slot)')
  return { name: board, chip, chip_id: id, slot_size: Number(slot) }
}

const verify: Command = {
  name: 'release verify',
  usage: 'release verify --board B --file APP.bin [--factory MERGED.bin] [--chip C --slot-size N | --server URL --token TOKEN] [--json]',
  summary:
    'check an image (and with --factory the merged flash image carrying it) as the server would and print what it would record; offline with --chip and --slot-size',
  options: {
    board: { type: 'string' },
    file: { type: 'string' },
    factory: { type: 'string' },
    chip: { type: 'string' },
    'slot-size': { type: 'string' },
    json: { type: 'boolean' },
    ...serverOptions,
  },
  async run({ values }, io) {
    const board = requiredName(values, 'board')
    const bytes = readInput(io, values, 'file')
    const target = await boardTarget(io, values, board)
    const report = inspectImage(bytes, target)
    const factory = str(values, 'factory') === undefined ? undefined : inspectFactoryImage(readInput(io, values, 'factory'), target, bytes)
    if (values.json) print(io, JSON.stringify(factory ? { ...report, factory } : report, null, 2))
    else print(io, formatImageReport(report) + (factory ? `\n${formatFactoryReport(factory)}` : ''))
    if (report.problems.length > 0) throw new CliRefusal(`the server would refuse this image: ${report.problems.join('; ')}`)
    if (factory && factory.problems.length > 0) throw new CliRefusal(`the server would refuse this factory image: ${factory.problems.join('; ')}`)
  },
}

const list: Command = {
  name: 'release list',
  usage: 'release list [--board B] [--channel C] [--server URL --token TOKEN] [--json]',
  summary: 'list releases, newest first (historical ones have no binary)',
  options: { board: { type: 'string' }, channel: { type: 'string' }, json: { type: 'boolean' }, ...serverOptions },
  async run({ values }, io) {
    for (const flag of ['board', 'channel']) {
      const v = str(values, flag)
      if (v !== undefined && !NAME.test(v)) throw new UsageError(`--${flag} must be a ${flag} name (lowercase letters, digits, "_" or "-")`)
    }
    const { releases } = await apiClient(values, io).get<{ releases: ReleaseView[] }>('/v1/releases', {
      board: str(values, 'board'),
      channel: str(values, 'channel'),
    })
    if (values.json) {
      print(io, JSON.stringify({ releases }, null, 2))
      return
    }
    const rows = releases.map((r) => ({
      ...r,
      sha256: r.sha256 ? r.sha256.slice(0, 12) : null,
      commit: r.commit.slice(0, 12),
    }))
    print(io, table(rows, ['board', 'channel', 'version', 'sequence', 'provenance', 'size', 'sha256', 'tag', 'commit', 'created_at']))
  },
}

export const releaseCommands: Command[] = [publish, verify, list]
