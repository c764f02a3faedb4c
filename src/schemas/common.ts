import { Type, type Static } from '@sinclair/typebox'

export const ErrorResponse = Type.Object(
  {
    error: Type.String({ description: 'stable machine-readable code' }),
    message: Type.String({ description: 'what went wrong and what to do about it' }),
  },
  { $id: 'ErrorResponse' }
)
export type ErrorResponse = Static<typeof ErrorResponse>

/** Error bodies for the given status codes, to spread into a route's `response` schema. */
export function errors<C extends number>(...codes: C[]): { [K in C]: typeof ErrorResponse } {
  return Object.fromEntries(codes.map((c) => [c, ErrorResponse])) as { [K in C]: typeof ErrorResponse }
}

// Each identifier's form is written once, here; code outside a route schema (the CLI, file names,
// the config) builds its checks from these.
const NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,31}$'
/** A token's or an enrollment token's name: 1-64 letters, digits, ".", "_", "@" or "-". */
const TOKEN_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'
/** 64 lowercase hex digits, unanchored: part of file names such as `<sha256>.bin`. */
export const SHA256_HEX = '[0-9a-f]{64}'

export const BoardName = Type.String({ pattern: NAME_PATTERN, description: 'board name' })
export const ChannelName = Type.String({ pattern: NAME_PATTERN, description: 'channel name' })
export const Version = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,30}$', description: 'version label' })
export const Sequence = Type.Integer({ minimum: 1, maximum: 4294967295, description: 'release sequence' })
export const Sha256Hex = Type.String({ pattern: `^${SHA256_HEX}$`, description: 'lowercase hex SHA-256' })
export const CommitHex = Type.String({ pattern: '^[0-9a-f]{40}$', description: 'git commit, 40 lowercase hex' })

/** The channel a release goes to, and devices poll, when none is named. */
export const DEFAULT_CHANNEL = 'stable'
/** A channel in a request that may leave it out: validation fills in the default channel. */
export const ChannelOrDefault = Type.String({ pattern: NAME_PATTERN, default: DEFAULT_CHANNEL, description: `channel name (default ${DEFAULT_CHANNEL})` })

/** A MAC as 12 hex digits, or six pairs separated by ':' or '-'. */
export const DeviceId = Type.String({
  pattern: '^(?:[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})$',
  description: 'device MAC: AABBCCDDEEFF, aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff',
})

/** A release branch name git can have: no "..", not starting with "." "-" or "/", at most 100 characters. */
export const BRANCH_NAME_PATTERN = '^(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}$'

/** The forms above as regular expressions, for checks made outside a route schema. */
export const NAME_FORM = new RegExp(NAME_PATTERN)
export const TOKEN_NAME_FORM = new RegExp(TOKEN_NAME_PATTERN)
export const VERSION_FORM = new RegExp(Version.pattern as string)
export const SHA256_FORM = new RegExp(Sha256Hex.pattern as string)
export const MAC_FORM = new RegExp(DeviceId.pattern as string)

/** Normalises a MAC accepted by DeviceId to 12 lowercase hex. */
export function normalizeDevice(mac: string): string {
  return mac.replace(/[:-]/g, '').toLowerCase()
}

/** What a refused pattern means, for a person: the description of the identifier it belongs to, not the regular expression. */
export function patternDescription(pattern: string): string | undefined {
  const forms: Record<string, string> = {
    [BoardName.pattern as string]: 'a name of lowercase letters, digits, "_" or "-" (at most 32)',
    [Version.pattern as string]: 'a version label of letters, digits, ".", "_", "+" or "-" (at most 31)',
    [Sha256Hex.pattern as string]: 'a SHA-256 as 64 lowercase hex digits',
    [CommitHex.pattern as string]: 'a git commit as 40 lowercase hex digits',
    [DeviceId.pattern as string]: 'a device MAC: AABBCCDDEEFF, aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff',
  }
  return forms[pattern]
}
