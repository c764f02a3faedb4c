import fs from 'node:fs'
import path from 'node:path'
import { chipId, CHIP_NAMES } from '../../esp/chips'
import { checkSequence, checkVersion, FirmwareRepoError } from '../../release/firmware-repo'
import { GitError } from '../../release/git'
import { formatBuiltAt, isBuiltAt } from '../../release/factory-statement'
import { nameFlag, optionalNameFlag } from '../identifiers'
import type { ReleaseView } from '../../schemas/release'
import { releaseRules } from '../release-flags'
import { flag, printJson, readFlagFile, type FlagValues } from '../flags'
import { apiClient, serverOptions } from '../api-client'
import { formatFactoryReport, inspectFactoryImage } from '../factory-report'
import { formatImageReport, inspectImage, type BoardTarget, type ImageReport } from '../image-report'
import { CliRefusal, UsageError, print, table, type CliIo } from '../io'
import type { Command } from '../command'
import { noProgress, progressBar } from '../progress'
import { publishRelease, type PublishOutcome } from '../release-publish'
import { resolveReleaseSource, type ReleaseSource } from '../release-source'

/**
 * The factory image of --factory and its build time: --built-at, or else when the build wrote the
 * file (its modification time), to the second in UTC.
 */
function readFactory(io: CliIo, values: FlagValues): { bytes: Buffer; builtAt: string } | undefined {
  const builtAt = flag(values, 'built-at')
  if (flag(values, 'factory') === undefined) {
    if (builtAt !== undefined) throw new UsageError('--built-at goes with --factory')
    return undefined
  }
  if (builtAt !== undefined && !isBuiltAt(builtAt)) throw new UsageError('--built-at must be a UTC time written YYYY-MM-DDTHH:MM:SSZ (e.g. 2026-11-27T10:00:00Z)')
  const bytes = readFlagFile(io, values, 'factory')
  return { bytes, builtAt: builtAt ?? formatBuiltAt(fs.statSync(path.resolve(io.cwd, flag(values, 'factory') as string)).mtime) }
}

/** Flags checked for form up front: a malformed one is a usage error, not a refusal. */
function flagForms(values: FlagValues): { version?: string; sequence?: number; rollout?: number } {
  for (const [a, b] of [['version', 'version-file'], ['sequence', 'sequence-file']]) {
    if (values[a] !== undefined && values[b] !== undefined) throw new UsageError(`give --${a} or --${b}, not both`)
  }
  optionalNameFlag(values, 'channel')
  const rolloutText = flag(values, 'rollout')
  if (rolloutText !== undefined && !/^(100|[1-9]?[0-9])$/.test(rolloutText)) throw new UsageError('--rollout must be a whole percentage from 0 to 100')
  try {
    const versionText = flag(values, 'version')
    const sequenceText = flag(values, 'sequence')
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

/** Where the version and sequence came from, and a warning when the image itself names another version. */
function printSource(io: CliIo, source: ReleaseSource, image: ImageReport): void {
  io.stderr.write(`version ${source.version}: from ${source.versionSource}\nsequence ${source.sequence}: from ${source.sequenceSource}\n`)
  if (image.app_version !== source.version) {
    io.stderr.write(
      `warning: the image's own version (esp_app_desc_t.version) is "${image.app_version}", not "${source.version}": ` +
        'devices on ota-gate compare the published version; devices that read the running app\'s version (esp_app_get_description) will report ' +
        `"${image.app_version}". Set the build's PROJECT_VER to ${source.version} to make them agree\n`
    )
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
    ['rollout', r.rollout ? `${r.rollout.percent}% of the channel's devices (${r.rollout.state}; \`ota-gate rollout set --percent N\` widens it)` : '-'],
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
    const board = nameFlag(values, 'board')
    const forms = flagForms(values)
    const bytes = readFlagFile(io, values, 'file')
    const factory = readFactory(io, values)
    const privateKeyPem = readFlagFile(io, values, 'key').toString('utf8')
    const client = apiClient(values, io)
    const { tagPattern, branch } = releaseRules(values, io)

    const source = await fromRepo(() =>
      resolveReleaseSource({
        repo: path.resolve(io.cwd, flag(values, 'repo') ?? '.'),
        tag: flag(values, 'tag'),
        tagPattern,
        branch,
        version: forms.version,
        versionFile: flag(values, 'version-file'),
        sequence: forms.sequence,
        sequenceFile: flag(values, 'sequence-file'),
      })
    )
    const json = values.json === true
    const outcome = await publishRelease(client, {
      board,
      bytes,
      privateKeyPem,
      source,
      channel: flag(values, 'channel'),
      notes: flag(values, 'notes'),
      rolloutPercent: forms.rollout,
      factory,
      progress: (total) => (json ? noProgress : progressBar(io.stderr, 'uploading', total)),
      checked: (image) => (json ? undefined : printSource(io, source, image)),
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
            version_from: source.versionSource,
            sequence_from: source.sequenceSource,
            image_version: outcome.image.app_version,
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

async function boardTarget(io: CliIo, values: FlagValues, board: string): Promise<BoardTarget> {
  const chip = flag(values, 'chip')
  const slot = flag(values, 'slot-size')
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
    const board = nameFlag(values, 'board')
    const bytes = readFlagFile(io, values, 'file')
    const target = await boardTarget(io, values, board)
    const report = inspectImage(bytes, target)
    const factory = flag(values, 'factory') === undefined ? undefined : inspectFactoryImage(readFlagFile(io, values, 'factory'), target, bytes)
    if (values.json) printJson(io, factory ? { ...report, factory } : report)
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
    for (const name of ['board', 'channel']) optionalNameFlag(values, name)
    const { releases } = await apiClient(values, io).get<{ releases: ReleaseView[] }>('/v1/releases', {
      board: flag(values, 'board'),
      channel: flag(values, 'channel'),
    })
    if (values.json) return printJson(io, { releases })
    const rows = releases.map((r) => ({
      ...r,
      sha256: r.sha256 ? r.sha256.slice(0, 12) : null,
      commit: r.commit.slice(0, 12),
    }))
    print(io, table(rows, ['board', 'channel', 'version', 'sequence', 'provenance', 'size', 'sha256', 'tag', 'commit', 'created_at']))
  },
}

export const releaseCommands: Command[] = [publish, verify, list]
