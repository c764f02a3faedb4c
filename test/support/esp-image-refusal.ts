import type { Test } from 'tap'
import { EspImageError, parseEspImage, type EspImageErrorReason } from '../../src/esp/esp-image'

/** Asserts that reading `bytes` throws an EspImageError with this reason and a message naming the problem. */
export function assertEspImageRefused(
  t: Test,
  bytes: Buffer,
  reason: EspImageErrorReason,
  message: RegExp,
  read: (bytes: Buffer) => unknown = parseEspImage,
): void {
  let error: unknown
  try {
    read(bytes)
  } catch (e) {
    error = e
  }
  t.type(error, EspImageError, `refused with an EspImageError (${reason})`)
  if (error instanceof EspImageError) {
    t.equal(error.reason, reason)
    t.match(error.message, message)
  }
}
