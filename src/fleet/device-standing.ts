import type { DeviceAuthMode } from '../config'
import { Refusal } from '../errors'
import type { EnrolledDevices } from './enrolled-devices'

/**
 * What to make of a request that names a device: record it as verified (it carries that device's
 * token), as unverified (it does not, and the device has no accepted key), or not at all (it does
 * not, but the device has an accepted key: someone else may be speaking in its name). With device
 * credentials off every request is recorded and the device's standing is left as it is.
 */
export type Standing = { record: true; verified: boolean | undefined } | { record: false }

export async function standingOf(enrolled: EnrolledDevices, mode: DeviceAuthMode, device: string, proven: string | null): Promise<Standing> {
  if (mode === 'off') return { record: true, verified: undefined }
  if (proven !== null) {
    if (proven !== device) throw new Refusal('device_token_invalid', `the device token is device ${proven}'s, not device ${device}'s`)
    return { record: true, verified: true }
  }
  if (await enrolled.hasAcceptedKey(device)) return { record: false }
  return { record: true, verified: false }
}

/** The refusal for a report naming an enrolled device without its token. */
export function tokenRequiredFor(device: string): Refusal {
  return new Refusal('device_token_required',
    `device ${device} is enrolled: send its device token (Authorization: Bearer <device token>) with what it reports`
  )
}
