import { apiClient, serverOptions, type ApiClient } from '../api-client'
import { UsageError, print, table, type CliIo } from '../io'
import type { Command } from '../main'

type Values = Record<string, string | boolean | string[] | undefined>

const str = (values: Values, name: string) => values[name] as string | undefined
const json = (io: CliIo, value: unknown) => print(io, JSON.stringify(value, null, 2))
const path = (...parts: string[]) => parts.map(encodeURIComponent).join('/')

interface VersionsBody {
  total: number
  verified: number
  device_auth: string
  stale: number
  stale_after: string
  versions: Array<Record<string, unknown>>
}

interface DevicesBody {
  devices: Array<Record<string, unknown>>
  next_cursor: string | null
}

interface DeviceBody extends Record<string, unknown> {
  history: Array<Record<string, unknown>>
  reports: Array<Record<string, unknown>>
  updates: Array<Record<string, unknown>>
}

const DEVICE_COLUMNS = ['device', 'board', 'channel', 'version', 'sequence', 'last_seen', 'polls', 'verified', 'address', 'note']
const ADOPTION_STATES = ['offered', 'downloading', 'downloaded', 'installed', 'booted', 'failed', 'rolled_back', 'silent_rollbacks', 'running']

/** Devices one page at a time until `max` (or every one when max is undefined). */
async function collectDevices(client: ApiClient, query: Record<string, string | undefined>, max: number | undefined): Promise<DevicesBody> {
  const devices: DevicesBody['devices'] = []
  let cursor: string | undefined
  for (;;) {
    const want = max === undefined ? 500 : Math.min(500, max - devices.length)
    const page = await client.get<DevicesBody>('/v1/devices', { ...query, limit: want, cursor })
    devices.push(...page.devices)
    if (page.next_cursor === null) return { devices, next_cursor: null }
    if (max !== undefined && devices.length >= max) return { devices, next_cursor: page.next_cursor }
    cursor = page.next_cursor
  }
}

export const fleetCommands: Command[] = [
  {
    name: 'fleet versions',
    usage: 'fleet versions [--board B] [--channel C] [--stale-after 26h] [--json] [--server URL --token TOKEN]',
    summary: 'devices per running version, and how many have not been seen for --stale-after (role operator)',
    options: { board: { type: 'string' }, channel: { type: 'string' }, 'stale-after': { type: 'string' }, json: { type: 'boolean' }, ...serverOptions },
    async run({ values }, io) {
      const client = apiClient(values, io)
      const body = await client.get<VersionsBody>('/v1/fleet/versions', {
        board: str(values, 'board'),
        channel: str(values, 'channel'),
        stale_after: str(values, 'stale-after'),
      })
      if (values.json) return json(io, body)
      if (body.versions.length > 0) print(io, table(body.versions, ['board', 'channel', 'version', 'sequence', 'devices', 'verified']))
      // Which of the counts steers rollouts depends on the server's OTA_DEVICE_AUTH.
      const counted = body.device_auth === 'off' ? 'device credentials off: all count' : 'only verified devices count'
      print(io, `${body.total} devices, ${body.verified} verified (${counted}), ${body.stale} not seen for ${body.stale_after}`)
    },
  },
  {
    name: 'fleet devices',
    usage:
      'fleet devices [--board B] [--channel C] [--version V] [--stale 24h] [--seen 24h] [--limit N | --all] [--json] [--server URL --token TOKEN]',
    summary: 'list devices in id order; --stale: not seen for that long, --seen: seen within it (role operator)',
    options: {
      board: { type: 'string' },
      channel: { type: 'string' },
      version: { type: 'string' },
      stale: { type: 'string' },
      seen: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      ...serverOptions,
    },
    async run({ values }, io) {
      const limitText = str(values, 'limit')
      if (limitText !== undefined && values.all) throw new UsageError('give --limit or --all, not both')
      const limit = limitText === undefined ? 50 : Number(limitText)
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number above 0, not "${limitText}"`)
      const client = apiClient(values, io)
      const body = await collectDevices(
        client,
        {
          board: str(values, 'board'),
          channel: str(values, 'channel'),
          version: str(values, 'version'),
          not_seen_within: str(values, 'stale'),
          seen_within: str(values, 'seen'),
        },
        values.all ? undefined : limit
      )
      if (values.json) return json(io, body)
      if (body.devices.length > 0) print(io, table(body.devices, DEVICE_COLUMNS))
      const more = body.next_cursor === null ? '' : ` (more follow: --all, or a larger --limit)`
      print(io, `${body.devices.length} devices${more}`)
    },
  },
  {
    name: 'device show',
    usage: 'device show DEVICE [--json] [--server URL --token TOKEN]',
    summary: 'one device: what it runs, its version history, where it stands with each release, its latest reports (role operator)',
    options: { json: { type: 'boolean' }, ...serverOptions },
    async run({ values, positionals }, io) {
      if (positionals.length !== 1) throw new UsageError('name exactly one device (its MAC)')
      const client = apiClient(values, io)
      const body = await client.get<DeviceBody>(`/v1/devices/${path(positionals[0])}`)
      if (values.json) return json(io, body)
      const { history, reports, updates, ...device } = body
      const width = Math.max(...Object.keys(device).map((k) => k.length))
      for (const [k, v] of Object.entries(device)) print(io, `${k.padEnd(width)}  ${v ?? '-'}`)
      print(io)
      print(io, 'updates')
      print(io, updates.length ? table(updates, ['version', 'sequence', 'state', 'from_version', 'offered_at', 'booted_at', 'rolled_back_at', 'rollback_silent']) : '  none')
      print(io)
      print(io, 'history (newest first)')
      print(io, table(history, ['at', 'version', 'sequence', 'channel', 'board']))
      print(io)
      print(io, 'reports (newest first)')
      print(io, reports.length ? table(reports, ['at', 'status', 'version', 'sequence', 'detail']) : '  none')
    },
  },
  {
    name: 'release adoption',
    usage: 'release adoption BOARD VERSION [--json] [--server URL --token TOKEN]',
    summary: "a release's devices per update state reached, and how many run it (role operator)",
    options: { json: { type: 'boolean' }, ...serverOptions },
    async run({ values, positionals }, io) {
      if (positionals.length !== 2) throw new UsageError('name a board and a version, e.g. release adoption esp32cam mason')
      const client = apiClient(values, io)
      const body = await client.get<Record<string, unknown>>(`/v1/releases/${path(positionals[0], positionals[1])}/adoption`)
      if (values.json) return json(io, body)
      print(io, `${body.board} ${body.version} (sequence ${body.sequence}, channel ${body.channel})`)
      print(io, table(ADOPTION_STATES.map((state) => ({ state, devices: body[state] })), ['state', 'devices']))
    },
  },
]
