import { apiClient, serverOptions } from '../api-client'
import { UsageError, print, table, type CliIo } from '../io'
import type { Command } from '../command'
import { flag, printJson, readListFile, type FlagValues } from '../flags'
import { MAC_FORM, TOKEN_NAME_FORM } from '../../schemas/common'

const KEY_ID = /^[0-9a-f]{16}$/

const common = { ...serverOptions, json: { type: 'boolean' }, reason: { type: 'string' } } as const
const SERVER_USAGE = '[--server URL --token TOKEN] [--json]'
const KEY_COLUMNS = ['device', 'key_id', 'board', 'state', 'requested_at', 'address', 'decided_by']

interface KeyView extends Record<string, unknown> {
  device: string
  key_id: string
}

function oneDevice(positionals: string[]): string {
  if (positionals.length !== 1 || !MAC_FORM.test(positionals[0])) throw new UsageError('name exactly one device by its MAC (AABBCCDDEEFF or aa:bb:cc:dd:ee:ff)')
  return positionals[0].replace(/[:-]/g, '').toLowerCase()
}

/** Device ids from the command line and, with --file, one per line of a file (# starts a comment). */
function devicesOf(values: FlagValues, positionals: string[], io: CliIo): string[] {
  const ids = [...positionals, ...readListFile(io, values, 'file')]
  if (ids.length === 0) throw new UsageError('name devices by MAC, or give --file with one per line')
  const bad = ids.filter((d) => !MAC_FORM.test(d))
  if (bad.length > 0) throw new UsageError(`not device MACs: ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}`)
  return ids
}

const decision = (action: 'accept' | 'reject' | 'revoke', summary: string): Command => ({
  name: `device ${action}`,
  arguments: ['DEVICE'],
  usage: `device ${action} DEVICE${action === 'revoke' ? '' : ' [--key-id ID]'} [--reason TEXT] ${SERVER_USAGE}`,
  summary,
  options: { ...common, 'key-id': { type: 'string' } },
  async run({ values, positionals }, io) {
    const device = oneDevice(positionals)
    const keyId = flag(values, 'key-id')
    if (keyId !== undefined && (action === 'revoke' || !KEY_ID.test(keyId))) {
      throw new UsageError(action === 'revoke' ? 'revoke takes no --key-id: it revokes the accepted key' : '--key-id must be 16 lowercase hex')
    }
    const body = await apiClient(values, io).post<KeyView>(`/v1/devices/${device}/${action}`, { key_id: keyId, reason: flag(values, 'reason') })
    if (values.json) return printJson(io, body)
    print(io, `device ${body.device}: key ${body.key_id} ${body.state}`)
  },
})

export const deviceCommands: Command[] = [
  {
    name: 'device pending',
    usage: `device pending [--state pending|accepted|rejected|revoked|replaced] ${SERVER_USAGE}`,
    summary: 'device keys waiting for an operator (or in another --state), oldest first (role operator)',
    options: { ...common, state: { type: 'string' } },
    async run({ values }, io) {
      const client = apiClient(values, io)
      const keys: KeyView[] = []
      let cursor: string | undefined
      do {
        const page = await client.get<{ keys: KeyView[]; next_cursor: string | null }>('/v1/device-keys', { state: flag(values, 'state') ?? 'pending', limit: 500, cursor })
        keys.push(...page.keys)
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      if (values.json) return printJson(io, { keys })
      if (keys.length > 0) print(io, table(keys, KEY_COLUMNS))
      print(io, `${keys.length} keys ${flag(values, 'state') ?? 'pending'}`)
    },
  },
  {
    name: 'device keys',
    arguments: ['DEVICE'],
    usage: `device keys DEVICE ${SERVER_USAGE}`,
    summary: "a device's keys and what became of each (role operator)",
    options: common,
    async run({ values, positionals }, io) {
      const device = oneDevice(positionals)
      const body = await apiClient(values, io).get<{ keys: KeyView[] }>(`/v1/devices/${device}/keys`)
      if (values.json) return printJson(io, body)
      print(io, body.keys.length ? table(body.keys, KEY_COLUMNS) : `device ${device} has not enrolled`)
    },
  },
  decision('accept', "accept a device's pending key (or the one --key-id names); it replaces the device's previous key (role operator)"),
  decision('reject', "reject a device's pending key (role operator)"),
  decision('revoke', "revoke a device's accepted key: its tokens stop working within seconds and what it says no longer counts (role operator)"),
  {
    name: 'device allow',
    arguments: ['DEVICE...'],
    usage: `device allow DEVICE... [--file MACS.txt] [--note TEXT] [--reason TEXT] ${SERVER_USAGE}`,
    summary: 'put device ids on the allow-list: they are accepted when they first enroll (role operator)',
    options: { ...common, file: { type: 'string' }, note: { type: 'string' } },
    async run({ values, positionals }, io) {
      const devices = devicesOf(values, positionals, io)
      const body = await apiClient(values, io).post<{ changed: number }>('/v1/device-allowlist/add', {
        devices,
        note: flag(values, 'note'),
        reason: flag(values, 'reason'),
      })
      if (values.json) return printJson(io, body)
      print(io, `${body.changed} devices added to the allow-list (${devices.length - body.changed} were on it)`)
    },
  },
  {
    name: 'device disallow',
    arguments: ['DEVICE...'],
    usage: `device disallow DEVICE... [--file MACS.txt] [--reason TEXT] ${SERVER_USAGE}`,
    summary: 'take device ids off the allow-list (devices already accepted stay accepted) (role operator)',
    options: { ...common, file: { type: 'string' } },
    async run({ values, positionals }, io) {
      const devices = devicesOf(values, positionals, io)
      const body = await apiClient(values, io).post<{ changed: number }>('/v1/device-allowlist/remove', { devices, reason: flag(values, 'reason') })
      if (values.json) return printJson(io, body)
      print(io, `${body.changed} devices taken off the allow-list`)
    },
  },
  {
    name: 'device allowlist',
    usage: `device allowlist ${SERVER_USAGE}`,
    summary: 'the device ids on the allow-list (role operator)',
    options: common,
    async run({ values }, io) {
      const client = apiClient(values, io)
      const devices: Array<Record<string, unknown>> = []
      let cursor: string | undefined
      do {
        const page = await client.get<{ devices: Array<Record<string, unknown>>; next_cursor: string | null }>('/v1/device-allowlist', { limit: 500, cursor })
        devices.push(...page.devices)
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      if (values.json) return printJson(io, { devices })
      if (devices.length > 0) print(io, table(devices, ['device', 'added_at', 'added_by', 'note']))
      print(io, `${devices.length} devices on the allow-list`)
    },
  },
]

export const enrollmentCommands: Command[] = [
  {
    name: 'enrollment create',
    usage: `enrollment create --name NAME [--max-uses N] [--expires 30d] [--reason TEXT] ${SERVER_USAGE}`,
    summary: "create an enrollment token to bake into a batch's factory image; prints it once, as the last line (role operator)",
    options: { ...common, name: { type: 'string' }, 'max-uses': { type: 'string' }, expires: { type: 'string' } },
    async run({ values }, io) {
      const name = flag(values, 'name')
      if (!name || !TOKEN_NAME_FORM.test(name)) throw new UsageError('--name must be 1-64 letters, digits, ".", "_", "@" or "-"')
      const maxText = flag(values, 'max-uses')
      if (maxText !== undefined && !/^[1-9][0-9]{0,7}$/.test(maxText)) throw new UsageError(`--max-uses must be a whole number from 1 to 99999999, not "${maxText}"`)
      const body = await apiClient(values, io).post<Record<string, unknown> & { token: string }>('/v1/enrollment-tokens', {
        name,
        max_uses: maxText === undefined ? undefined : Number(maxText),
        expires_in: flag(values, 'expires'),
        reason: flag(values, 'reason'),
      })
      if (values.json) return printJson(io, body)
      const limits = [body.max_uses === null ? 'unlimited uses' : `${body.max_uses} uses`, body.expires_at === null ? 'no expiry' : `expires ${body.expires_at}`]
      io.stderr.write(`created enrollment token "${name}" (${limits.join(', ')}); it is shown once, keep it secret:\n`)
      print(io, body.token)
    },
  },
  {
    name: 'enrollment list',
    usage: `enrollment list ${SERVER_USAGE}`,
    summary: 'enrollment tokens: names, uses, expiry, state; never the tokens (role operator)',
    options: common,
    async run({ values }, io) {
      const body = await apiClient(values, io).get<{ tokens: Array<Record<string, unknown>> }>('/v1/enrollment-tokens')
      if (values.json) return printJson(io, body)
      print(io, body.tokens.length ? table(body.tokens, ['name', 'state', 'uses', 'max_uses', 'expires_at', 'created_at', 'created_by']) : 'no enrollment tokens')
    },
  },
  {
    name: 'enrollment revoke',
    arguments: ['NAME'],
    usage: `enrollment revoke NAME [--reason TEXT] ${SERVER_USAGE}`,
    summary: 'revoke an enrollment token: devices enrolling with it wait for an operator (role operator)',
    options: common,
    async run({ values, positionals }, io) {
      if (positionals.length !== 1 || !TOKEN_NAME_FORM.test(positionals[0])) throw new UsageError('name exactly one enrollment token')
      const body = await apiClient(values, io).post<{ revoked: string }>(`/v1/enrollment-tokens/${positionals[0]}/revoke`, { reason: flag(values, 'reason') })
      if (values.json) return printJson(io, body)
      print(io, `revoked enrollment token "${body.revoked}"`)
    },
  },
]
