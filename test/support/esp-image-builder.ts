import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'

// Generates ESP32 application images laid out the way esptool elf2image writes them, for tests and benchmarks.

export interface EspImageOptions {
  chipId?: number
  version?: string
  projectName?: string
  idfVersion?: string
  secureVersion?: number
  /** Approximate total size in bytes; the IROM segment grows to reach it. */
  size?: number
  hashAppended?: boolean
  appDescriptor?: boolean
  seed?: number
}

const MMU_PAGE = 0x10000
const DROM_ADDRESS = 0x3f400020
const DRAM_ADDRESS = 0x3ffb0000
const IRAM_ADDRESS = 0x40080000
const IROM_ADDRESS = 0x400d0020
const RTC_DATA_ADDRESS = 0x50000000
const ENTRY_POINT = 0x40081088
const APP_DESC_MAGIC = 0xabcd5432
const FLASH_MODE_DIO = 2
const FLASH_2MB_40M = 0x10
const WP_PIN_DISABLED = 0xee
const MAX_REV_FULL_V3_99 = 399

/** xorshift32 stream seeded from the image's identity, so every version/seed gives different bytes. */
function randomBytes(length: number, state: { x: number }): Buffer {
  const out = Buffer.alloc(length)
  let x = state.x
  for (let i = 0; i + 4 <= length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out.writeUInt32LE(x >>> 0, i)
  }
  state.x = x
  return out
}

function fixedString(value: string, length: number, what: string): Buffer {
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length >= length) {
    throw new RangeError(`${what} "${value}" is ${bytes.length} bytes; esp_app_desc_t holds at most ${length - 1}`)
  }
  const out = Buffer.alloc(length)
  bytes.copy(out)
  return out
}

function appDescriptor(opts: Required<EspImageOptions>, identity: string): Buffer {
  const desc = Buffer.alloc(256)
  desc.writeUInt32LE(APP_DESC_MAGIC, 0x00)
  desc.writeUInt32LE(opts.secureVersion, 0x04)
  fixedString(opts.version, 32, 'version').copy(desc, 0x10)
  fixedString(opts.projectName, 32, 'projectName').copy(desc, 0x30)
  fixedString('10:00:00', 16, 'time').copy(desc, 0x50)
  fixedString('Nov 27 2026', 16, 'date').copy(desc, 0x60)
  fixedString(opts.idfVersion, 32, 'idfVersion').copy(desc, 0x70)
  createHash('sha256').update(`elf|${identity}`).digest().copy(desc, 0x90)
  return desc
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4
}

export function buildEspImage(options: EspImageOptions = {}): Buffer {
  const opts: Required<EspImageOptions> = {
    chipId: 0,
    version: '1.0.0',
    projectName: 'ota-gate-test',
    idfVersion: 'v5.2.1',
    secureVersion: 0,
    size: 64 * 1024,
    hashAppended: true,
    appDescriptor: true,
    seed: 0,
    ...options,
  }
  const identity = JSON.stringify([opts.chipId, opts.version, opts.projectName, opts.idfVersion, opts.seed])
  const state = { x: createHash('sha256').update(identity).digest().readUInt32LE(0) || 1 }

  const dromLength = align4(Math.max(0x400, Math.min(opts.size / 8, 0x8000)))
  const drom = randomBytes(dromLength, state)
  if (opts.appDescriptor) {
    appDescriptor(opts, identity).copy(drom, 0)
  } else if (drom.readUInt32LE(0) === APP_DESC_MAGIC) {
    drom.writeUInt32LE(0, 0)
  }
  const dram = randomBytes(0x800, state)

  // As elf2image does, size the RAM segment before IROM so that IROM's data sits at its load address modulo the
  // 64 KiB MMU page; small images skip that to stay small.
  const iramHeaderAt = 24 + 8 + drom.length + 8 + dram.length
  let iramLength = 0x400
  if (opts.size >= MMU_PAGE) {
    const iromHeaderAt = Math.ceil((iramHeaderAt + 8 + 0x400 - 0x18) / MMU_PAGE) * MMU_PAGE + 0x18
    iramLength = iromHeaderAt - iramHeaderAt - 8
  }
  const iram = randomBytes(iramLength, state)
  const iromHeaderAt = iramHeaderAt + 8 + iram.length
  const rtc = randomBytes(0x10, state)
  const tail = 8 + 8 + rtc.length + 16 + (opts.hashAppended ? 32 : 0)
  const irom = randomBytes(align4(Math.max(0x100, opts.size - iromHeaderAt - tail)), state)

  const segments: Array<[number, Buffer]> = [
    [DROM_ADDRESS, drom],
    [DRAM_ADDRESS, dram],
    [IRAM_ADDRESS, iram],
    [IROM_ADDRESS, irom],
    [RTC_DATA_ADDRESS, rtc],
  ]

  const header = Buffer.alloc(24)
  header[0] = 0xe9
  header[1] = segments.length
  header[2] = FLASH_MODE_DIO
  header[3] = FLASH_2MB_40M
  header.writeUInt32LE(ENTRY_POINT, 4)
  header[8] = WP_PIN_DISABLED
  header.writeUInt16LE(opts.chipId, 12)
  header.writeUInt16LE(MAX_REV_FULL_V3_99, 17)
  header[23] = opts.hashAppended ? 1 : 0

  const parts: Buffer[] = [header]
  let length = header.length
  let checksum = 0xef
  for (const [address, data] of segments) {
    const segmentHeader = Buffer.alloc(8)
    segmentHeader.writeUInt32LE(address, 0)
    segmentHeader.writeUInt32LE(data.length, 4)
    parts.push(segmentHeader, data)
    length += 8 + data.length
    for (const byte of data) checksum ^= byte
  }
  const padding = Buffer.alloc(16 - (length % 16))
  padding[padding.length - 1] = checksum
  parts.push(padding)
  const image = Buffer.concat(parts)
  if (!opts.hashAppended) return image
  return Buffer.concat([image, createHash('sha256').update(image).digest()])
}

export interface SignatureOptions {
  /** 0x02 RSA-3072-PSS (default) or 0x03 ECDSA. */
  version?: number
  /** Signature blocks in the sector, 1 to 3. */
  blocks?: number
}

/**
 * Appends a Secure Boot V2 signature sector as `espsecure sign_data --version 2` lays it out: 0xFF up to 4 KiB,
 * then blocks carrying the SHA-256 of everything before the sector and a CRC32. The key and signature fields are
 * filler: nothing here can verify them without the device's key digest.
 */
export function appendSecureBootV2Signature(image: Buffer, options: SignatureOptions = {}): Buffer {
  const version = options.version ?? 0x02
  const blocks = options.blocks ?? 1
  const padded = Buffer.alloc(Math.ceil(image.length / 4096) * 4096, 0xff)
  image.copy(padded)
  const digest = createHash('sha256').update(padded).digest()
  const sector = Buffer.alloc(4096, 0xff)
  const state = { x: digest.readUInt32LE(0) || 1 }
  for (let i = 0; i < blocks; i++) {
    const block = Buffer.alloc(1216)
    block[0] = 0xe7
    block[1] = version
    digest.copy(block, 4)
    randomBytes(1196 - 36, state).copy(block, 36)
    block.writeUInt32LE(crc32(block.subarray(0, 1196)), 1196)
    block.copy(sector, i * 1216)
  }
  return Buffer.concat([padded, sector])
}

/**
 * A later build of `image`: `edit` returns the new contents of its largest (code) segment, which may change
 * length (kept 4-aligned); the header, other segments, checksum and appended hash are rebuilt around it, as
 * a rebuild with a changed source would. Used to make images whose delta is known to be small or large.
 */
export function reviseEspImage(image: Buffer, edit: (code: Buffer) => Buffer): Buffer {
  const count = image[1]
  const hashAppended = image[23] === 1
  const segments: Array<{ header: Buffer; data: Buffer }> = []
  let at = 24
  for (let i = 0; i < count; i++) {
    const header = Buffer.from(image.subarray(at, at + 8))
    const length = header.readUInt32LE(4)
    segments.push({ header, data: Buffer.from(image.subarray(at + 8, at + 8 + length)) })
    at += 8 + length
  }
  const code = segments.reduce((a, b) => (b.data.length > a.data.length ? b : a))
  const edited = edit(Buffer.from(code.data))
  code.data = Buffer.concat([edited, Buffer.alloc(align4(edited.length) - edited.length)])
  code.header.writeUInt32LE(code.data.length, 4)
  const parts: Buffer[] = [Buffer.from(image.subarray(0, 24))]
  let length = 24
  let checksum = 0xef
  for (const { header, data } of segments) {
    parts.push(header, data)
    length += 8 + data.length
    for (const byte of data) checksum ^= byte
  }
  const padding = Buffer.alloc(16 - (length % 16))
  padding[padding.length - 1] = checksum
  parts.push(padding)
  const body = Buffer.concat(parts)
  return hashAppended ? Buffer.concat([body, createHash('sha256').update(body).digest()]) : body
}

/** Seeded filler for edits: the same seed gives the same bytes. */
export function seededBytes(length: number, seed: number): Buffer {
  return randomBytes(length + 4, { x: seed || 1 }).subarray(0, length)
}

/** A small code change: a few scattered byte edits and a short insertion, like a one-line fix. */
export function smallCodeChange(code: Buffer, seed = 1): Buffer {
  const out = Buffer.from(code)
  const noise = seededBytes(64, seed)
  for (let i = 0; i < 16; i++) out[Math.floor((out.length * (i + 1)) / 17)] ^= noise[i] | 1
  const cut = Math.floor(out.length / 3)
  return Buffer.concat([out.subarray(0, cut), noise.subarray(16, 48), out.subarray(cut)])
}

/**
 * An SDK-upgrade-sized change: a quarter of the code rewritten in pieces and the rest shifted, as when
 * ESP-IDF itself moves under the application.
 */
export function largeCodeChange(code: Buffer, seed = 2): Buffer {
  const block = 4096
  const parts: Buffer[] = []
  for (let at = 0, i = 0; at < code.length; at += block, i++) {
    const piece = code.subarray(at, at + block)
    parts.push(i % 4 === 1 ? seededBytes(piece.length + 12, seed + i) : piece)
  }
  return Buffer.concat(parts)
}
