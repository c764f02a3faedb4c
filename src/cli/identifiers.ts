import { parseDuration } from '../fleet/duration'
import { DeviceId } from '../schemas/common'
import { UsageError } from './io'
import { flag, type FlagValues } from './flags'

// Identifiers and durations given on the command line are checked before anything is sent, so
// that a mistake is named by the flag the person typed, not by an API field or a regular expression.

export const MAC = new RegExp(DeviceId.pattern as string)

/** A device MAC, or a usage error saying the forms accepted. */
export function checkDevice(text: string): string {
  if (!MAC.test(text)) throw new UsageError(`"${text}" is not a device MAC: give 12 hex digits (AABBCCDDEEFF) or six pairs (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff)`)
  return text
}

/** A duration flag (90m, 24h, 7d), when given. */
export function durationFlag(values: FlagValues, name: string): string | undefined {
  const text = flag(values, name)
  if (text !== undefined && parseDuration(text) === undefined) {
    throw new UsageError(`--${name} must be a duration like 90m, 24h or 7d (a whole number followed by s, m, h or d), not "${text}"`)
  }
  return text
}
