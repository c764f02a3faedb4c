import type { Static } from '@sinclair/typebox'
import type { DeviceRolloutView } from '../../schemas/rollout'
import type { AdoptionResponse, LegacyResponse, VersionsResponse } from '../../schemas/fleet'
import { apiClient, serverOptions, type ApiClient } from '../api-client'
import { flag, printJson } from '../flags'
import { checkDevice, durationFlag } from '../identifiers'
import { UsageError, print, table } from '../io'
import type { Command } from '../command'

const path = (...parts: string[]) => parts.map(encodeURIComponent).join('/')

type VersionsBody = Static<typeof VersionsResponse>
type FieldFleet = NonNullable<VersionsBody['field_fleet']>

interface DevicesBody {
  devices: Array<Record<string, unknown>>
  next_cursor: string | null
}

interface DeviceBody extends Record<string, unknown> {
  history: Array<Record<string, unknown>>
  reports: Array<Record<string, unknown>>
  updates: Array<Record<string, unknown>>
  rollout?: Static<typeof DeviceRolloutView>
}

const DEVICE_COLUMNS = ['device', 'board', 'channel', 'version', 'sequence', 'last_seen', 'polls', 'verified', 'address', 'note']
const ADOPTION_STATES = ['offered', 'downloading', 'downloaded', 'installed', 'booted', 'failed', 'rolled_back', 'silent_rollbacks', 'running'] as const

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

/** The field fleet's own line: never added to the device counts above it. */
function fieldFleetLine(f: FieldFleet, staleAfter: string): string {
  return (
    `${f.label}: ${f.clients} client(s) at ${f.addresses} address(es) polling /firmware.json (${f.board} ${f.channel}), ` +
    `${f.stale} not seen for ${staleAfter}; counted by address and user agent, not devices (ota-gate fleet legacy)`
  )
}

/** A device's place in its channel's rollout, in words. */
function rolloutLine(r: Static<typeof DeviceRolloutView>): string {
  const target = r.target
    ? `target ${r.target.version} (sequence ${r.target.sequence}, by ${r.target.basis}${r.target.allow_downgrade ? ', downgrade allowed' : ''})`
    : 'no target (nothing released for its channel)'
  const pin = r.pinned ? `pinned to ${r.pinned.version} by ${r.pinned.pinned_by} at ${r.pinned.pinned_at}${r.pinned.reason ? ` (${r.pinned.reason})` : ''}` : 'not pinned'
  return `${target}; ${r.in_rollout ? 'in' : 'outside'} the newest release's rollout; ${pin}`
}

export const fleetCommands: Command[] = [
  {
    name: 'fleet versions',
    usage: 'fleet versions [--board B] [--channel C] [--stale-after 26h] [--json] [--server URL --token TOKEN]',
    summary: 'devices per running version, how many have not been seen for --stale-after, and the field fleet on its own line (role operator)',
    options: { board: { type: 'string' }, channel: { type: 'string' }, 'stale-after': { type: 'string' }, json: { type: 'boolean' }, ...serverOptions },
    async run({ values }, io) {
      const staleAfter = durationFlag(values, 'stale-after')
      const client = apiClient(values, io)
      const body = await client.get<VersionsBody>('/v1/fleet/versions', {
        board: flag(values, 'board'),
        channel: flag(values, 'channel'),
        stale_after: staleAfter,
      })
      if (values.json) return printJson(io, body)
      if (body.versions.length > 0) print(io, table(body.versions, ['board', 'channel', 'version', 'sequence', 'devices', 'verified']))
      // Which of the counts steers rollouts depends on the server's OTA_DEVICE_AUTH.
      const counted = body.device_auth === 'off' ? 'device credentials off: all count' : 'only verified devices count'
      print(io, `${body.total} devices, ${body.verified} verified (${counted}), ${body.stale} not seen for ${body.stale_after}`)
      if (body.field_fleet && body.field_fleet.clients > 0) print(io, fieldFleetLine(body.field_fleet, body.stale_after))
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
      const limitText = flag(values, 'limit')
      if (limitText !== undefined && values.all) throw new UsageError('give --limit or --all, not both')
      const limit = limitText === undefined ? 50 : Number(limitText)
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number above 0, not "${limitText}"`)
      const query = {
        board: flag(values, 'board'),
        channel: flag(values, 'channel'),
        version: flag(values, 'version'),
        not_seen_within: durationFlag(values, 'stale'),
        seen_within: durationFlag(values, 'seen'),
      }
      const body = await collectDevices(apiClient(values, io), query, values.all ? undefined : limit)
      if (values.json) return printJson(io, body)
      if (body.devices.length > 0) print(io, table(body.devices, DEVICE_COLUMNS))
      const more = body.next_cursor === null ? '' : ` (more follow: --all, or a larger --limit)`
      print(io, `${body.devices.length} devices${more}`)
    },
  },
  {
    name: 'fleet legacy',
    usage: 'fleet legacy [--stale-after 26h] [--limit N] [--json] [--server URL --token TOKEN]',
    summary:
      'the field fleet (clients of /firmware.json and /firmware.app.bin, which name no device) by address and user agent: polls, what each downloaded and when, downloads per release, stale clients (role operator)',
    options: { 'stale-after': { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, ...serverOptions },
    async run({ values }, io) {
      const staleAfter = durationFlag(values, 'stale-after')
      const limitText = flag(values, 'limit')
      if (limitText !== undefined && !/^[1-9][0-9]{0,3}$/.test(limitText)) throw new UsageError(`--limit must be a whole number from 1 to 1000, not "${limitText}"`)
      const body = await apiClient(values, io).get<Static<typeof LegacyResponse>>('/v1/fleet/legacy', { stale_after: staleAfter, limit: limitText })
      if (values.json) return printJson(io, body)
      const rows = body.clients.map((c) => ({
        ...c,
        stale: c.stale ? 'stale' : '',
        downloaded: c.downloads.map((d) => `${d.version} at ${d.last_at}`).join(', ') || '-',
      }))
      if (rows.length > 0) print(io, table(rows, ['address', 'user_agent', 'first_seen', 'last_seen', 'polls', 'downloaded', 'stale']))
      if (body.more) print(io, `(more clients: a larger --limit)`)
      if (body.releases.length > 0) {
        print(io)
        print(io, 'downloads per release')
        print(io, table(body.releases, ['version', 'sequence', 'clients', 'addresses']))
      }
      print(io)
      print(io, fieldFleetLine(body.field_fleet, body.stale_after))
    },
  },
  {
    name: 'device show',
    arguments: ['DEVICE'],
    usage: 'device show DEVICE [--json] [--server URL --token TOKEN]',
    summary: 'one device: what it runs, its rollout, its version history, where it stands with each release, its latest reports (role operator)',
    options: { json: { type: 'boolean' }, ...serverOptions },
    async run({ values, positionals }, io) {
      if (positionals.length !== 1) throw new UsageError('name the device (its MAC, e.g. aa:bb:cc:dd:ee:ff)')
      const device = checkDevice(positionals[0])
      const body = await apiClient(values, io).get<DeviceBody>(`/v1/devices/${path(device)}`)
      if (values.json) return printJson(io, body)
      const { history, reports, updates, rollout, ...fields } = body
      const lines: Array<[string, unknown]> = [...Object.entries(fields), ['rollout', rollout ? rolloutLine(rollout) : null]]
      const width = Math.max(...lines.map(([k]) => k.length))
      for (const [k, v] of lines) print(io, `${k.padEnd(width)}  ${v ?? '-'}`)
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
    arguments: ['BOARD', 'VERSION'],
    usage: 'release adoption BOARD VERSION [--json] [--server URL --token TOKEN]',
    summary: "a release's devices per update state reached, how many run it, and the field fleet's downloads on their own line (role operator)",
    options: { json: { type: 'boolean' }, ...serverOptions },
    async run({ values, positionals }, io) {
      if (positionals.length !== 2) throw new UsageError('name a board and a version, e.g. release adoption esp32cam mason')
      const body = await apiClient(values, io).get<Static<typeof AdoptionResponse>>(`/v1/releases/${path(positionals[0], positionals[1])}/adoption`)
      if (values.json) return printJson(io, body)
      print(io, `${body.board} ${body.version} (sequence ${body.sequence}, channel ${body.channel})`)
      print(io, table(ADOPTION_STATES.map((state) => ({ state, devices: body[state] })), ['state', 'devices']))
      const f = body.field_fleet
      if (f && f.downloaded_clients > 0) {
        print(io, `${f.label}: ${f.downloaded_clients} client(s) at ${f.downloaded_addresses} address(es) downloaded it from /firmware.app.bin; counted by address and user agent, not devices`)
      }
    },
  },
]
