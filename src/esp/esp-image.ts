import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { chipName, type ChipName } from './chips'

// The ESP32-family application image (esptool's ESP32FirmwareImage), read without trusting any length in it.

export type EspImageErrorReason =
  | 'bad_magic'
  | 'bad_header'
  | 'no_segments'
  | 'too_many_segments'
  | 'segment_out_of_bounds'
  | 'truncated'
  | 'trailing_data'
  | 'bad_signature_block'
  | 'checksum_mismatch'
  | 'hash_mismatch'
  | 'signature_digest_mismatch'
  | 'no_app_descriptor'

export class EspImageError extends Error {
  readonly reason: EspImageErrorReason

  constructor(reason: EspImageErrorReason, message: string) {
    super(message)
    this.name = 'EspImageError'
    this.reason = reason
  }
}

export interface EspImageSegment {
  loadAddress: number
  length: number
  /** Offset of the segment's 8-byte header, as esptool prints it; the data follows at fileOffset + 8. */
  fileOffset: number
}

export interface EspAppDescriptor {
  secureVersion: number
  version: string
  projectName: string
  compileTime: string
  compileDate: string
  idfVersion: string
  elfSha256: string
}

export interface SecureBootV2Signature {
  /** 0x02 RSA-3072-PSS, 0x03 ECDSA. */
  version: number
  /** Where the 4 KiB signature sector starts; the signed image is everything before it. */
  offset: number
  /** Valid signature blocks in the sector (1 to 3). */
  blocks: number
  /** Whether every block's image digest matches the bytes before the sector. */
  digestValid: boolean
}

export interface EspImageInfo {
  size: number
  /** Bytes from offset 0 through the checksum byte and the appended SHA-256, if any. */
  imageLength: number
  chipId: number
  chip: ChipName | undefined
  entryPoint: number
  flashMode: string
  flashSize: string
  flashFreq: string
  minRev: number
  minRevFull: number
  maxRevFull: number
  segments: EspImageSegment[]
  checksum: number
  calculatedChecksum: number
  checksumOffset: number
  checksumValid: boolean
  hashAppended: boolean
  /** The SHA-256 stored after the checksum byte (hex), null when none is appended. */
  validationHash: string | null
  calculatedHash: string | null
  hashValid: boolean | null
  secureBootSignature: SecureBootV2Signature | null
  /** 0xFF bytes after the image: the padding before the signature sector, or else up to the end of the file. */
  fillBytes: number
  app: EspAppDescriptor | null
}

export interface EspImage extends EspImageInfo {
  app: EspAppDescriptor
}

const IMAGE_MAGIC = 0xe9
const HEADER_LENGTH = 24
const SEGMENT_HEADER_LENGTH = 8
const MAX_SEGMENTS = 16
const CHECKSUM_SEED = 0xef
const DIGEST_LENGTH = 32
const MAX_IMAGE_SIZE = 16 * 1024 * 1024
const APP_DESC_OFFSET = 0x20
const APP_DESC_LENGTH = 256
const APP_DESC_MAGIC = 0xabcd5432
const SECTOR_SIZE = 4096
const SIG_BLOCK_MAGIC = 0xe7
const SIG_BLOCK_VERSIONS = [0x02, 0x03]
const SIG_BLOCK_SIZE = 1216
const SIG_BLOCK_CRC_OFFSET = 1196
const SIG_BLOCKS_MAX = 3
const ECDSA_SHA_384 = 0x01

const FLASH_MODES = ['QIO', 'QOUT', 'DIO', 'DOUT']
const FLASH_SIZES = ['1MB', '2MB', '4MB', '8MB', '16MB', '32MB', '64MB', '128MB']
// esptool's FLASH_FREQUENCY tables (first name where two share a value), keyed by the low nibble of header byte 3;
// the meaning of a value differs by chip.
const FLASH_FREQS_ESP32: Record<number, string> = { 0xf: '80m', 0x0: '40m', 0x1: '26m', 0x2: '20m' }
const FLASH_FREQS_BY_CHIP: Record<number, Record<number, string>> = {
  12: { 0xf: '60m', 0x0: '30m', 0x1: '20m', 0x2: '15m' },
  13: { 0x0: '80m', 0x2: '20m' },
  16: { 0xf: '48m', 0x0: '24m', 0x1: '16m', 0x2: '12m' },
  18: { 0xf: '80m', 0x0: '40m', 0x2: '20m' },
  20: { 0xf: '80m', 0x0: '40m', 0x2: '20m' },
  23: { 0xf: '80m', 0x0: '40m', 0x2: '20m' },
}

function hex(n: number): string {
  return `0x${n.toString(16)}`
}

function nameOrHex(name: string | undefined, value: number): string {
  return name ?? `unknown (${hex(value)})`
}

function cString(bytes: Buffer, offset: number, length: number): string {
  const field = bytes.subarray(offset, offset + length)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8')
}

function readAppDescriptor(bytes: Buffer, firstSegment: EspImageSegment): EspAppDescriptor | null {
  if (firstSegment.length < APP_DESC_LENGTH) return null
  const d = APP_DESC_OFFSET
  if (bytes.readUInt32LE(d) !== APP_DESC_MAGIC) return null
  return {
    secureVersion: bytes.readUInt32LE(d + 0x04),
    version: cString(bytes, d + 0x10, 32),
    projectName: cString(bytes, d + 0x30, 32),
    compileTime: cString(bytes, d + 0x50, 16),
    compileDate: cString(bytes, d + 0x60, 16),
    idfVersion: cString(bytes, d + 0x70, 32),
    elfSha256: bytes.subarray(d + 0x90, d + 0x90 + 32).toString('hex'),
  }
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest()
}

function isFill(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0xff) return false
  return true
}

function isValidSignatureBlock(block: Buffer): boolean {
  return (
    block[0] === SIG_BLOCK_MAGIC &&
    SIG_BLOCK_VERSIONS.includes(block[1]) &&
    crc32(block.subarray(0, SIG_BLOCK_CRC_OFFSET)) === block.readUInt32LE(SIG_BLOCK_CRC_OFFSET)
  )
}

function readSignatureSector(bytes: Buffer, offset: number): SecureBootV2Signature {
  const first = bytes.subarray(offset, offset + SIG_BLOCK_SIZE)
  if (!isValidSignatureBlock(first)) {
    throw new EspImageError(
      'bad_signature_block',
      `the Secure Boot V2 signature sector at ${hex(offset)} starts with magic 0xe7 but its first block is not valid ` +
        `(version ${hex(first[1])}, expected 0x2 or 0x3, or a wrong CRC32): re-sign the image with espsecure`,
    )
  }
  const valid = [first]
  while (valid.length < SIG_BLOCKS_MAX) {
    const start = offset + valid.length * SIG_BLOCK_SIZE
    const block = bytes.subarray(start, start + SIG_BLOCK_SIZE)
    if (!isValidSignatureBlock(block)) break
    valid.push(block)
  }
  // ECDSA-P384 blocks carry a SHA-384 digest; all others a SHA-256 one (espsecure signature_info_v2).
  const signed = bytes.subarray(0, offset)
  const digests = new Map<string, Buffer>()
  const digestValid = valid.every((block) => {
    const algorithm = block[1] === 0x03 && block[2] === ECDSA_SHA_384 ? 'sha384' : 'sha256'
    const digest = digests.get(algorithm) ?? createHash(algorithm).update(signed).digest()
    digests.set(algorithm, digest)
    return block.subarray(4, 4 + digest.length).equals(digest)
  })
  return { version: first[1], offset, blocks: valid.length, digestValid }
}

/*
 * What may follow the image. esptool itself reads nothing past the appended SHA-256, but every byte of the file is
 * served and written into the OTA slot, so we accept only what Espressif's tools write there:
 * - 0xFF fill (erased flash): `esptool elf2image --pad-to-size`, and espsecure's padding up to a 4 KiB boundary;
 * - one Secure Boot V2 signature sector (4 KiB, first block 0xE7 / version 2 or 3) at the first 4 KiB boundary after
 *   the image, ending the file, as `espsecure sign_data --version 2` appends it; the bootloader looks for it only there.
 * Anything else is another file glued on (a merged flash image, a concatenation, a damaged upload) and is refused.
 * Secure Boot V1's 68-byte ECDSA block (ESP32 only) is not supported.
 */
function readTrailer(
  bytes: Buffer,
  imageLength: number,
): { secureBootSignature: SecureBootV2Signature | null; fillBytes: number } {
  const sectorOffset = Math.ceil(imageLength / SECTOR_SIZE) * SECTOR_SIZE
  if (
    bytes.length === sectorOffset + SECTOR_SIZE &&
    bytes[sectorOffset] === SIG_BLOCK_MAGIC &&
    isFill(bytes, imageLength, sectorOffset)
  ) {
    return { secureBootSignature: readSignatureSector(bytes, sectorOffset), fillBytes: sectorOffset - imageLength }
  }
  for (let i = imageLength; i < bytes.length; i++) {
    if (bytes[i] !== 0xff) {
      throw new EspImageError(
        'trailing_data',
        `the image ends at ${hex(imageLength)} (checksum and appended hash included) but the file goes on to ` +
          `${hex(bytes.length)}, with byte ${hex(bytes[i])} at ${hex(i)}: ` +
          `only 0xFF fill or a Secure Boot V2 signature sector at ${hex(sectorOffset)} may follow; ` +
          'upload the application .bin itself, not a merged or concatenated file',
      )
    }
  }
  return { secureBootSignature: null, fillBytes: bytes.length - imageLength }
}

function readSegments(bytes: Buffer, count: number): { segments: EspImageSegment[]; end: number } {
  const segments: EspImageSegment[] = []
  let pos = HEADER_LENGTH
  for (let i = 0; i < count; i++) {
    const which = `segment ${i + 1} of ${count}`
    if (pos + SEGMENT_HEADER_LENGTH > bytes.length) {
      throw new EspImageError(
        'truncated',
        `the file ends at ${hex(bytes.length)}, inside the header of ${which} (at ${hex(pos)}): the file is truncated`,
      )
    }
    const loadAddress = bytes.readUInt32LE(pos)
    const length = bytes.readUInt32LE(pos + 4)
    const dataEnd = pos + SEGMENT_HEADER_LENGTH + length
    // A length no image can have means a damaged header rather than a short file.
    if (dataEnd > MAX_IMAGE_SIZE) {
      throw new EspImageError(
        'segment_out_of_bounds',
        `${which} (header at ${hex(pos)}, load address ${hex(loadAddress)}) declares ${hex(length)} bytes, ` +
          `ending at ${hex(dataEnd)}, past the 16 MiB an image can have and the file's end at ${hex(bytes.length)}: ` +
          'the segment header is damaged',
      )
    }
    if (dataEnd > bytes.length) {
      throw new EspImageError(
        'truncated',
        `${which} (header at ${hex(pos)}, load address ${hex(loadAddress)}) declares ${hex(length)} bytes ending at ` +
          `${hex(dataEnd)}, but the file ends at ${hex(bytes.length)}: the file is truncated (or that length is damaged)`,
      )
    }
    segments.push({ loadAddress, length, fileOffset: pos })
    pos = dataEnd
  }
  return { segments, end: pos }
}

/**
 * Reads an image's structure and reports its integrity the way `esptool image_info` does: a bad checksum, hash or
 * signature digest is reported (checksumValid, hashValid, digestValid), not thrown. Throws EspImageError when the
 * bytes cannot be an image at all. Does not require an application descriptor, so it also reads bootloaders.
 */
export function readEspImage(bytes: Buffer): EspImageInfo {
  if (bytes.length < HEADER_LENGTH) {
    throw new EspImageError(
      'truncated',
      `the file has ${bytes.length} bytes, fewer than the ${HEADER_LENGTH}-byte image header`,
    )
  }
  if (bytes[0] !== IMAGE_MAGIC) {
    throw new EspImageError(
      'bad_magic',
      `the first byte is ${hex(bytes[0])}, not the ESP image magic 0xe9: this is not an ESP32 application image`,
    )
  }
  const segmentCount = bytes[1]
  if (segmentCount === 0) {
    throw new EspImageError('no_segments', 'the header declares 0 segments: an image needs 1 to 16')
  }
  if (segmentCount > MAX_SEGMENTS) {
    throw new EspImageError(
      'too_many_segments',
      `the header declares ${segmentCount} segments, more than the ${MAX_SEGMENTS} an ESP32 bootloader loads`,
    )
  }
  const hashAppendedByte = bytes[23]
  if (hashAppendedByte > 1) {
    throw new EspImageError(
      'bad_header',
      `the hash_appended byte at 0x17 is ${hex(hashAppendedByte)}, not 0 or 1: the header is damaged`,
    )
  }
  const hashAppended = hashAppendedByte === 1
  const chipIdValue = bytes.readUInt16LE(12)

  const { segments, end } = readSegments(bytes, segmentCount)

  // The checksum byte is the last of the zero padding that makes the length a multiple of 16.
  const checksumOffset = end + (15 - (end % 16))
  if (checksumOffset >= bytes.length) {
    throw new EspImageError(
      'truncated',
      `the file ends at ${hex(bytes.length)}, before the checksum byte at ${hex(checksumOffset)}: the file is truncated`,
    )
  }
  let calculatedChecksum = CHECKSUM_SEED
  for (const segment of segments) {
    const dataStart = segment.fileOffset + SEGMENT_HEADER_LENGTH
    for (let i = dataStart; i < dataStart + segment.length; i++) calculatedChecksum ^= bytes[i]
  }
  const checksum = bytes[checksumOffset]

  let imageLength = checksumOffset + 1
  let validationHash: string | null = null
  let calculatedHash: string | null = null
  if (hashAppended) {
    if (imageLength + DIGEST_LENGTH > bytes.length) {
      throw new EspImageError(
        'truncated',
        `the file ends at ${hex(bytes.length)}, inside the appended SHA-256 at ${hex(imageLength)}..` +
          `${hex(imageLength + DIGEST_LENGTH)}: the file is truncated`,
      )
    }
    validationHash = bytes.subarray(imageLength, imageLength + DIGEST_LENGTH).toString('hex')
    calculatedHash = sha256(bytes.subarray(0, imageLength)).toString('hex')
    imageLength += DIGEST_LENGTH
  }

  const { secureBootSignature, fillBytes } = readTrailer(bytes, imageLength)
  const sizeFreq = bytes[3]
  const freqs = FLASH_FREQS_BY_CHIP[chipIdValue] ?? FLASH_FREQS_ESP32

  return {
    size: bytes.length,
    imageLength,
    chipId: chipIdValue,
    chip: chipName(chipIdValue),
    entryPoint: bytes.readUInt32LE(4),
    flashMode: nameOrHex(FLASH_MODES[bytes[2]], bytes[2]),
    flashSize: nameOrHex(FLASH_SIZES[sizeFreq >> 4], sizeFreq >> 4),
    flashFreq: nameOrHex(freqs[sizeFreq & 0x0f], sizeFreq & 0x0f),
    minRev: bytes[14],
    minRevFull: bytes.readUInt16LE(15),
    maxRevFull: bytes.readUInt16LE(17),
    segments,
    checksum,
    calculatedChecksum,
    checksumOffset,
    checksumValid: checksum === calculatedChecksum,
    hashAppended,
    validationHash,
    calculatedHash,
    hashValid: hashAppended ? validationHash === calculatedHash : null,
    secureBootSignature,
    fillBytes,
    app: readAppDescriptor(bytes, segments[0]),
  }
}

/**
 * Parses an application image as a device would accept it: structure, checksum, appended hash, signature digest
 * and an esp_app_desc_t at 0x20. Throws EspImageError naming the first check that fails.
 */
export function parseEspImage(bytes: Buffer): EspImage {
  const info = readEspImage(bytes)
  if (!info.checksumValid) {
    throw new EspImageError(
      'checksum_mismatch',
      `checksum byte at offset ${hex(info.checksumOffset)} is ${hex(info.checksum)}, ` +
        `segments XOR to ${hex(info.calculatedChecksum)}: the image is damaged`,
    )
  }
  if (info.hashValid === false) {
    throw new EspImageError(
      'hash_mismatch',
      `the SHA-256 appended at ${hex(info.checksumOffset + 1)} is ${info.validationHash}, but bytes 0..` +
        `${hex(info.checksumOffset)} hash to ${info.calculatedHash}: the image is damaged`,
    )
  }
  if (info.secureBootSignature !== null && !info.secureBootSignature.digestValid) {
    throw new EspImageError(
      'signature_digest_mismatch',
      `the Secure Boot V2 signature at ${hex(info.secureBootSignature.offset)} signs a different image digest than ` +
        'the bytes before it: the image was changed after signing, or the signature belongs to another image',
    )
  }
  if (info.app === null) {
    throw new EspImageError(
      'no_app_descriptor',
      `no esp_app_desc_t (magic 0xabcd5432) at offset 0x20, found ${hex(bytes.readUInt32LE(APP_DESC_OFFSET))}` +
        `${info.segments[0].length < APP_DESC_LENGTH ? ` and the first segment is only ${info.segments[0].length} bytes` : ''}` +
        ': this is not an application (a bootloader or a RAM-only image?)',
    )
  }
  return { ...info, app: info.app }
}
