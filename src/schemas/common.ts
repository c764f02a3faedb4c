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

export const BoardName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'board name' })
export const ChannelName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'channel name' })
export const Version = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,30}$', description: 'version label' })
export const Sequence = Type.Integer({ minimum: 1, maximum: 4294967295, description: 'release sequence' })
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'lowercase hex SHA-256' })
export const CommitHex = Type.String({ pattern: '^[0-9a-f]{40}$', description: 'git commit, 40 lowercase hex' })
/** A MAC as 12 hex digits, or six pairs separated by ':' or '-'. */
export const DeviceId = Type.String({
  pattern: '^(?:[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})$',
  description: 'device MAC: AABBCCDDEEFF, aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff',
})

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
