import { parseDuration } from '../duration'
import { MAC_FORM, NAME_FORM, VERSION_FORM } from '../schemas/common'
import { UsageError } from './io'
import { flag, type FlagValues } from './flags'

// Identifiers and durations given on the command line are checked before anything is sent, so
// that a mistake is named by the flag the person typed, not by an API field or a regular expression.

/** A device MAC, or a usage error saying the forms accepted. */
export function checkDevice(text: string): string {
  if (!MAC_FORM.test(text)) throw new UsageError(`"${text}" is not a device MAC: give 12 hex digits (AABBCCDDEEFF) or six pairs (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff)`)
  return text
}

/** A board or channel name given as --option (or the fallback), or a usage error. */
export function nameFlag(values: FlagValues, option: string, fallback?: string): string {
  const value = flag(values, option) ?? fallback
  if (value === undefined) throw new UsageError(`--${option} is required`)
  if (!NAME_FORM.test(value)) throw new UsageError(`--${option} must be a ${option} name (lowercase letters, digits, "_" or "-"), not "${value}"`)
  return value
}

/** A name flag that may be left out. */
export function optionalNameFlag(values: FlagValues, option: string): string | undefined {
  return flag(values, option) === undefined ? undefined : nameFlag(values, option)
}

/** A version label given as --option, or a usage error. */
export function versionFlag(values: FlagValues, option: string): string {
  const value = flag(values, option)
  if (value === undefined) throw new UsageError(`--${option} is required`)
  if (!VERSION_FORM.test(value)) throw new UsageError(`--${option} must be a version label, not "${value}"`)
  return value
}

/** A duration flag (90m, 24h, 7d), when given. */
export function durationFlag(values: FlagValues, name: string): string | undefined {
  const text = flag(values, name)
  if (text !== undefined && parseDuration(text) === undefined) {
    throw new UsageError(`--${name} must be a duration like 90m, 24h or 7d (a whole number followed by s, m, h or d), not "${text}"`)
  }
  return text
}
