import { badRequest } from './errors'

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const DURATION = /^([0-9]{1,6})(s|m|h|d)$/
/** Ten years: longer than any fleet has existed, short enough that now - duration stays a sane time. */
const MAX_MS = 3650 * UNIT_MS.d

/** `90m`, `24h`, `7d`, `30s` in milliseconds; undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text)
  if (!m) return undefined
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  return ms > 0 && ms <= MAX_MS ? ms : undefined
}

/** A duration query parameter, or a 400 naming the parameter and the expected form. */
export function durationParam(name: string, text: string): number {
  const ms = parseDuration(text)
  if (ms === undefined) {
    throw badRequest(`${name} must be a duration like 90m, 24h or 7d (a whole number of s, m, h or d, above 0 and at most 3650d), not "${text}"`)
  }
  return ms
}
