import { bsdiffChunks } from './bsdiff'
import { HeatshrinkEncoder, type HeatshrinkParams } from './heatshrink'
import { packSize } from './pack-size'

// detools' sequential patch, the only kind esp_delta_ota applies:
//   byte 0            patch type (sequential = 0) << 4 | compression (heatshrink = 4)
//   pack_size         size of the new image
//   then, compressed as one heatshrink stream whose first byte (uncompressed) names its parameters:
//   pack_size(0)      no data-format section
//   per bsdiff chunk  pack_size(diff length), diff bytes, pack_size(extra length), extra bytes, pack_size(adjustment)
// A new image of size 0 ends the patch after its size.

export const PATCH_TYPE_SEQUENTIAL = 0
export const COMPRESSION_HEATSHRINK = 4
/** What esp_delta_ota's decoder is built for (detools' defaults). */
export const ESP_DELTA_HEATSHRINK: HeatshrinkParams = { windowBits: 8, lookaheadBits: 7 }

export function patchTypeByte(patchType: number, compression: number): number {
  return ((patchType & 0x7) << 4) | (compression & 0xf)
}

export function heatshrinkParamsByte({ windowBits, lookaheadBits }: HeatshrinkParams): number {
  return ((windowBits - 4) << 4) | (lookaheadBits - 3)
}

export function heatshrinkParamsFromByte(byte: number): HeatshrinkParams {
  return { windowBits: (byte >> 4) + 4, lookaheadBits: (byte & 0xf) + 3 }
}

/** The detools sequential bsdiff/heatshrink patch that turns `from` into `to`, as detools writes it. */
export function createSequentialPatch(from: Uint8Array, to: Uint8Array, params: HeatshrinkParams = ESP_DELTA_HEATSHRINK): Buffer {
  const parts: Buffer[] = [
    Buffer.from([patchTypeByte(PATCH_TYPE_SEQUENTIAL, COMPRESSION_HEATSHRINK)]),
    packSize(to.length),
  ]
  if (to.length === 0) return Buffer.concat(parts)
  parts.push(Buffer.from([heatshrinkParamsByte(params)]))
  const encoder = new HeatshrinkEncoder(params)
  parts.push(encoder.write(packSize(0)))
  for (const chunk of bsdiffChunks(from, to)) {
    parts.push(encoder.write(packSize(chunk.diff.length)))
    parts.push(encoder.write(chunk.diff))
    parts.push(encoder.write(packSize(chunk.extra.length)))
    parts.push(encoder.write(chunk.extra))
    parts.push(encoder.write(packSize(chunk.adjustment)))
  }
  parts.push(encoder.finish())
  return Buffer.concat(parts)
}
