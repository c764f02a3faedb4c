import { applySequentialPatch } from './apply'
import { createSequentialPatch } from './detools-patch'
import { ESP_DELTA_HEADER_SIZE, espDeltaHeader, readEspDeltaHeader, runningPartitionDigest } from './esp-delta-header'

// The file a device downloads: esp_delta_ota's 64-byte header, then the detools sequential patch.

export const ESP_DELTA_FORMAT = 'esp_delta_ota'

export function createEspDeltaPatch(base: Buffer, target: Buffer): Buffer {
  return Buffer.concat([espDeltaHeader(base), createSequentialPatch(base, target)])
}

export class EspDeltaMismatch extends Error {
  override name = 'EspDeltaMismatch'
}

/** Applies a served patch to `base`, checking first that the header names this base. */
export function applyEspDeltaPatch(base: Buffer, patch: Buffer): Buffer {
  const header = readEspDeltaHeader(patch)
  if (!header.baseDigest.equals(runningPartitionDigest(base))) {
    throw new EspDeltaMismatch('the patch header names another base image')
  }
  return applySequentialPatch(base, patch.subarray(ESP_DELTA_HEADER_SIZE))
}
