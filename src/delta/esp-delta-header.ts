import { createHash } from 'node:crypto'
import { readEspImage } from '../esp/esp-image'

// The 64-byte header esp_delta_ota's example puts in front of a detools patch (esp_delta_ota_patch_gen.py):
// magic 0xfccdde10 little-endian, the SHA-256 the device reads for its running partition
// (esp_partition_get_sha256: the image's appended validation hash), then zeros.

export const ESP_DELTA_MAGIC = 0xfccdde10
export const ESP_DELTA_HEADER_SIZE = 64
const DIGEST_SIZE = 32

/**
 * The digest a device running `image` compares with the header: the appended SHA-256 where the image
 * carries one (every ESP-IDF app by default), otherwise the SHA-256 of the bytes.
 */
export function runningPartitionDigest(image: Buffer): Buffer {
  try {
    const info = readEspImage(image)
    if (info.validationHash !== null) return Buffer.from(info.validationHash, 'hex')
  } catch {
    // Not an ESP image (test data): fall through to the plain digest.
  }
  return createHash('sha256').update(image).digest()
}

export function espDeltaHeader(baseImage: Buffer): Buffer {
  const header = Buffer.alloc(ESP_DELTA_HEADER_SIZE)
  header.writeUInt32LE(ESP_DELTA_MAGIC, 0)
  runningPartitionDigest(baseImage).copy(header, 4, 0, DIGEST_SIZE)
  return header
}

export interface EspDeltaHeader {
  baseDigest: Buffer
}

/** Reads the header; throws when the magic is wrong. */
export function readEspDeltaHeader(bytes: Uint8Array): EspDeltaHeader {
  if (bytes.length < ESP_DELTA_HEADER_SIZE) throw new RangeError('shorter than the 64-byte esp_delta_ota header')
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, ESP_DELTA_HEADER_SIZE)
  if (buffer.readUInt32LE(0) !== ESP_DELTA_MAGIC) throw new RangeError('not an esp_delta_ota patch (bad magic)')
  return { baseDigest: Buffer.from(buffer.subarray(4, 4 + DIGEST_SIZE)) }
}
