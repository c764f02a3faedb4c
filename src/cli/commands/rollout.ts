import type { Static } from '@sinclair/typebox'
import type { AuditView, ChannelRolloutView, PinView, PolicyView, RollbackView, RolloutView } from '../../schemas/rollout'
import { ApiRefusal, apiClient, serverOptions, type ApiClient } from '../api-client'
import { flag, printJson, readFlagFile, type FlagValues } from '../flags'
import { checkDevice } from '../identifiers'
import { UsageError, print, table, type CliIo } from '../io'
import type { Command } from '../main'

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,30}$/

function name(values: FlagValues, option: string, fallback?: string): string {
  const value = flag(values, option) ?? fallback
  if (value === undefined) throw new UsageError(`--${option} is required`)
  if (!NAME.test(value)) throw new UsageError(`--${option} must be a ${option} name (lowercase letters, digits, "_" or "-"), not "${value}"`)
  return value
}

function optionalName(values: FlagValues, option: string): string | undefined {
  return flag(values, option) === undefined ? undefined : name(values, option)
}

function version(values: FlagValues, option: string): string {
  const value = flag(values, option)
  if (value === undefined) throw new UsageError(`--${option} is required`)
  if (!VERSION.test(value)) throw new UsageError(`--${option} must be a version label, not "${value}"`)
  return value
}

function number(values: FlagValues, option: string, min: number, max: number, integer = false): number | undefined {
  const text = flag(values, option)
  if (text === undefined) return undefined
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${option} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not "${text}"`)
  }
  return n
}

const reason = (values: FlagValues) => flag(values, 'reason')
const common = { ...serverOptions, json: { type: 'boolean' }, reason: { type: 'string' } } as const
const channelOptions = { ...common, board: { type: 'string' }, channel: { type: 'string' } } as const
const CHANNEL_USAGE = '--board B [--channel C] [--reason TEXT] [--server URL --token TOKEN] [--json]'

type Rollout = Static<typeof RolloutView>
type ChannelRollout = Static<typeof ChannelRolloutView>

/** Prints the server's answer as JSON with --json, else as a table for a person. */
function show(io: CliIo, values: FlagValues, answer: unknown, rows: Array<Record<string, unknown>>, columns: string[]): void {
  if (values.json) printJson(io, answer)
  else print(io, table(rows, columns))
}

const ROLLOUT_COLUMNS = ['board', 'channel', 'version', 'sequence', 'percent', 'state', 'updated_at', 'halted_reason']

function channelPath(values: FlagValues, action: string): string {
  return `/v1/rollouts/${name(values, 'board')}/${name(values, 'channel', 'stable')}/${action}`
}

const status: Command = {
  name: 'rollout status',
  usage: 'rollout status --board B [--channel C] [--server URL --token TOKEN] [--json]',
  summary: 'per channel: the current rollout (percent, state, why it halted), any rollback, the policy',
  options: channelOptions,
  async run({ values }, io) {
    const board = name(values, 'board')
    const answer = await apiClient(values, io).get<{ channels: ChannelRollout[] }>(`/v1/rollouts/${board}`, { channel: optionalName(values, 'channel') })
    const rows = answer.channels.map((c) => ({
      ...(c.current ?? { board: c.board, channel: c.channel }),
      rollback: c.rollback ? `${c.rollback.version} since ${c.rollback.at}` : null,
      policy: `${c.policy.default_percent}% start, halt at ${c.policy.halt_min_count} and ${c.policy.halt_min_ratio * 100}%`,
    }))
    show(io, values, answer, rows, ['board', 'channel', 'version', 'sequence', 'percent', 'state', 'rollback', 'halted_reason', 'policy'])
  },
}

const set: Command = {
  name: 'rollout set',
  usage: `rollout set --percent N ${CHANNEL_USAGE}`,
  summary: "set the share of devices the channel's newest release reaches (raising it only adds devices)",
  options: { ...channelOptions, percent: { type: 'string' } },
  async run({ values }, io) {
    const percent = number(values, 'percent', 0, 100)
    if (percent === undefined) throw new UsageError('--percent is required')
    const path = channelPath(values, 'percent')
    const answer = await apiClient(values, io).request<Rollout>('PUT', path, { json: { percent, reason: reason(values) } })
    show(io, values, answer, [answer], ROLLOUT_COLUMNS)
  },
}

function stateCommand(action: 'pause' | 'resume', summary: string): Command {
  return {
    name: `rollout ${action}`,
    usage: `rollout ${action} ${CHANNEL_USAGE}`,
    summary,
    options: channelOptions,
    async run({ values }, io) {
      const path = channelPath(values, action)
      const answer = await apiClient(values, io).request<Rollout>('POST', path, { json: { reason: reason(values) } })
      show(io, values, answer, [answer], ROLLOUT_COLUMNS)
    },
  }
}

const rollback: Command = {
  name: 'rollout rollback',
  usage: `rollout rollback --to VERSION ${CHANNEL_USAGE}`,
  summary: 'send every unpinned device of the channel back to an earlier release (allow_downgrade) until the next release',
  options: { ...channelOptions, to: { type: 'string' } },
  async run({ values }, io) {
    const path = channelPath(values, 'rollback')
    const answer = await apiClient(values, io).request<{ board: string; channel: string; rollback: Static<typeof RollbackView> }>('POST', path, {
      json: { to: version(values, 'to'), reason: reason(values) },
    })
    show(io, values, answer, [{ board: answer.board, channel: answer.channel, ...answer.rollback }], ['board', 'channel', 'version', 'sequence', 'at'])
  },
}

const policy: Command = {
  name: 'rollout policy',
  usage: `rollout policy [--default-percent N] [--halt-min-count N] [--halt-min-ratio R] ${CHANNEL_USAGE}`,
  summary: "show or set the channel's starting percentage and auto-halt thresholds (count and share 0-1 of devices that tried)",
  options: { ...channelOptions, 'default-percent': { type: 'string' }, 'halt-min-count': { type: 'string' }, 'halt-min-ratio': { type: 'string' } },
  async run({ values }, io) {
    const change = {
      default_percent: number(values, 'default-percent', 0, 100),
      halt_min_count: number(values, 'halt-min-count', 1, 1_000_000, true),
      halt_min_ratio: number(values, 'halt-min-ratio', 0, 1),
    }
    if (change.halt_min_ratio === 0) throw new UsageError('--halt-min-ratio must be above 0')
    const client = apiClient(values, io)
    let answer: { board: string; channel: string; policy: Static<typeof PolicyView> }
    if (Object.values(change).every((v) => v === undefined)) {
      const { channels } = await client.get<{ channels: ChannelRollout[] }>(`/v1/rollouts/${name(values, 'board')}`, {
        channel: name(values, 'channel', 'stable'),
      })
      answer = { board: channels[0].board, channel: channels[0].channel, policy: channels[0].policy }
    } else {
      answer = await client.request('PUT', channelPath(values, 'policy'), { json: { ...change, reason: reason(values) } })
    }
    show(io, values, answer, [{ board: answer.board, channel: answer.channel, ...answer.policy }], [
      'board',
      'channel',
      'default_percent',
      'halt_min_count',
      'halt_min_ratio',
    ])
  },
}

/** Devices from --device (comma-separated) and --devices-file (one a line, # comments), in order, once each. */
function devicesOf(values: FlagValues, io: CliIo): string[] {
  const listed = (flag(values, 'device') ?? '').split(',')
  const file = flag(values, 'devices-file')
  if (file !== undefined) {
    const text = readFlagFile(io, values, 'devices-file').toString('utf8')
    listed.push(...text.split(/\r?\n/).map((l) => l.replace(/#.*/, '')))
  }
  const devices = [...new Set(listed.map((d) => d.trim()).filter((d) => d !== ''))]
  if (devices.length === 0) throw new UsageError('name devices with --device D[,D…] or --devices-file FILE')
  return devices.map(checkDevice)
}

const PIN_COLUMNS = ['device', 'board', 'version', 'sequence', 'pinned_by', 'pinned_at', 'reason']

const pin: Command = {
  name: 'rollout pin',
  usage: 'rollout pin --device D[,D…] | --devices-file FILE --board B --version V [--reason TEXT] [--server URL --token TOKEN] [--json]',
  summary: 'hold devices on a release whatever the rollout does',
  options: { ...common, device: { type: 'string' }, 'devices-file': { type: 'string' }, board: { type: 'string' }, version: { type: 'string' } },
  async run({ values }, io) {
    const body = { devices: devicesOf(values, io), board: name(values, 'board'), version: version(values, 'version'), reason: reason(values) }
    const answer = await apiClient(values, io).request<{ pins: Array<Static<typeof PinView>> }>('PUT', '/v1/pins', { json: body })
    show(io, values, answer, answer.pins, PIN_COLUMNS)
  },
}

const unpin: Command = {
  name: 'rollout unpin',
  usage: 'rollout unpin --device D[,D…] [--reason TEXT] [--server URL --token TOKEN] [--json]',
  summary: "let devices follow their channel's rollout again",
  options: { ...common, device: { type: 'string' } },
  async run({ values }, io) {
    const devices = devicesOf(values, io)
    const client: ApiClient = apiClient(values, io)
    const unpinned: Array<Static<typeof PinView>> = []
    for (const device of devices) {
      try {
        unpinned.push(await client.request('DELETE', `/v1/pins/${device}`, { query: { reason: reason(values) } }))
      } catch (err) {
        if (err instanceof ApiRefusal && err.code === 'pin_not_found') {
          throw new ApiRefusal(err.status, err.code, `${err.message}: \`ota-gate rollout pins\` lists the pinned devices`)
        }
        throw err
      }
    }
    if (values.json) return printJson(io, { unpinned })
    // The pins are gone: say what each device was held on, not a table that reads like active pins.
    for (const p of unpinned) {
      print(io, `unpinned ${p.device}: it was held on ${p.board} ${p.version} (sequence ${p.sequence}) by ${p.pinned_by} since ${p.pinned_at}; it follows its channel's rollout again`)
    }
  },
}

const pins: Command = {
  name: 'rollout pins',
  usage: 'rollout pins [--board B] [--server URL --token TOKEN] [--json]',
  summary: 'list pinned devices',
  options: { ...serverOptions, json: { type: 'boolean' }, board: { type: 'string' } },
  async run({ values }, io) {
    const answer = await apiClient(values, io).get<{ pins: Array<Static<typeof PinView>> }>('/v1/pins', { board: optionalName(values, 'board') })
    show(io, values, answer, answer.pins, PIN_COLUMNS)
  },
}

const audit: Command = {
  name: 'audit',
  usage: 'audit [--board B] [--channel C] [--limit N] [--cursor C] [--server URL --token TOKEN] [--json]',
  summary: 'who changed rollouts, pins and rollbacks, when and why (newest first)',
  options: { ...serverOptions, json: { type: 'boolean' }, board: { type: 'string' }, channel: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
  async run({ values }, io) {
    const cursor = flag(values, 'cursor')
    if (cursor !== undefined && !/^[0-9]{1,15}$/.test(cursor)) throw new UsageError('--cursor must be the next_cursor a previous page gave')
    const answer = await apiClient(values, io).get<{ entries: Array<Static<typeof AuditView>>; next_cursor: string | null }>('/v1/audit', {
      board: optionalName(values, 'board'),
      channel: optionalName(values, 'channel'),
      limit: number(values, 'limit', 1, 500, true),
      cursor,
    })
    const rows = answer.entries.map((e) => ({ ...e, details: JSON.stringify(e.details) }))
    show(io, values, answer, rows, ['at', 'actor', 'action', 'board', 'channel', 'version', 'device', 'reason', 'details'])
    if (!values.json && answer.next_cursor !== null) print(io, `more: --cursor ${answer.next_cursor}`)
  },
}

export const rolloutCommands: Command[] = [
  status,
  set,
  stateCommand('pause', 'pause the channel\'s rollout: no new devices join; devices already on the release keep it'),
  stateCommand('resume', 'resume a paused or halted rollout'),
  rollback,
  policy,
  pin,
  unpin,
  pins,
  audit,
]
