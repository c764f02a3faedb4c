import { createHash } from 'node:crypto'

// The binary partition table as ESP-IDF's gen_esp32part.py writes it and the bootloader reads it:
// 32-byte entries (magic 0xAA 0x50, type, subtype, offset u32, size u32, label[16], flags u32),
// optionally an MD5 entry (0xEB 0xEB, 14 × 0xFF, the MD5 of every entry before it), then 0xFF.

/** Where the table sits unless CONFIG_PARTITION_TABLE_OFFSET moves it. */
export const PARTITION_TABLE_OFFSET = 0x8000
/** gen_esp32part's MAX_PARTITION_LENGTH: the table and its padding fill 0xC00 bytes. */
export const PARTITION_TABLE_LENGTH = 0xc00

const ENTRY_LENGTH = 32
const ENTRY_MAGIC = Buffer.from([0xaa, 0x50])
const MD5_MAGIC = Buffer.from([0xeb, 0xeb])
const APP_ALIGNMENT = 0x10000

export const PARTITION_TYPE_APP = 0x00
export const PARTITION_TYPE_DATA = 0x01
export const APP_SUBTYPE_FACTORY = 0x00
export const APP_SUBTYPE_OTA_0 = 0x10
const APP_SUBTYPE_OTA_15 = 0x1f
export const DATA_SUBTYPE_OTA = 0x00

export interface Partition {
  label: string
  type: number
  subtype: number
  offset: number
  size: number
  flags: number
}

export interface PartitionTable {
  partitions: Partition[]
  /** the MD5 entry's digest (hex), null when the table was written without one (--disable-md5sum) */
  md5: string | null
}

export type PartitionTableErrorReason = 'invalid' | 'md5_mismatch'

export class PartitionTableError extends Error {
  constructor(
    readonly reason: PartitionTableErrorReason,
    message: string
  ) {
    super(message)
    this.name = 'PartitionTableError'
  }
}

const hex = (n: number) => `0x${n.toString(16)}`

export function isOtaApp(p: Partition): boolean {
  return p.type === PARTITION_TYPE_APP && p.subtype >= APP_SUBTYPE_OTA_0 && p.subtype <= APP_SUBTYPE_OTA_15
}

export function isFactoryApp(p: Partition): boolean {
  return p.type === PARTITION_TYPE_APP && p.subtype === APP_SUBTYPE_FACTORY
}

export function isOtaData(p: Partition): boolean {
  return p.type === PARTITION_TYPE_DATA && p.subtype === DATA_SUBTYPE_OTA
}

function label(entry: Buffer): string {
  const field = entry.subarray(12, 28)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? field.length : end).toString('latin1')
}

const isErased = (b: Buffer) => b.every((byte) => byte === 0xff)

/**
 * Reads a partition table from the bytes at its offset (at most 0xC00 are looked at). Throws
 * PartitionTableError: `md5_mismatch` when the MD5 entry does not match the entries before it (the
 * bootloader refuses to boot), `invalid` for anything else gen_esp32part would not have written.
 */
export function parsePartitionTable(bytes: Buffer): PartitionTable {
  const table = bytes.subarray(0, PARTITION_TABLE_LENGTH)
  const partitions: Partition[] = []
  let md5: string | null = null
  for (let at = 0; ; at += ENTRY_LENGTH) {
    if (at + ENTRY_LENGTH > table.length) {
      throw new PartitionTableError(
        'invalid',
        `the partition table has no end marker (an entry of 0xFF) within ${hex(table.length)} bytes: write it with gen_esp32part.py`
      )
    }
    const entry = table.subarray(at, at + ENTRY_LENGTH)
    if (isErased(entry)) break
    if (md5 !== null) {
      throw new PartitionTableError('invalid', `entry ${hex(at)} follows the MD5 entry: the MD5 entry must be the table's last`)
    }
    if (entry.subarray(0, 2).equals(MD5_MAGIC)) {
      const expected = createHash('md5').update(table.subarray(0, at)).digest()
      const stored = entry.subarray(16, 32)
      if (!stored.equals(expected)) {
        throw new PartitionTableError(
          'md5_mismatch',
          `the partition table's MD5 entry (at table offset ${hex(at)}) holds ${stored.toString('hex')}, but the entries before it hash to ` +
            `${expected.toString('hex')}: the table was changed after gen_esp32part.py wrote it; build it again`
        )
      }
      md5 = stored.toString('hex')
      continue
    }
    if (!entry.subarray(0, 2).equals(ENTRY_MAGIC)) {
      throw new PartitionTableError(
        'invalid',
        `partition table entry at table offset ${hex(at)} starts with ${entry.subarray(0, 2).toString('hex')}, ` +
          'neither a partition (aa50), the MD5 entry (ebeb) nor the end (ffff): this is not a partition table written by gen_esp32part.py'
      )
    }
    partitions.push({
      type: entry[2],
      subtype: entry[3],
      offset: entry.readUInt32LE(4),
      size: entry.readUInt32LE(8),
      label: label(entry),
      flags: entry.readUInt32LE(28),
    })
  }
  if (partitions.length === 0) throw new PartitionTableError('invalid', 'the partition table has no partition')
  checkLayout(partitions)
  return { partitions, md5 }
}

/** What gen_esp32part.py checks too: apps on 64 KiB boundaries, no two partitions on the same bytes. */
function checkLayout(partitions: Partition[]): void {
  for (const p of partitions) {
    if (p.size === 0) throw new PartitionTableError('invalid', `partition ${p.label} has size 0`)
    if (p.type === PARTITION_TYPE_APP && p.offset % APP_ALIGNMENT !== 0) {
      throw new PartitionTableError('invalid', `app partition ${p.label} is at ${hex(p.offset)}, not on a 64 KiB boundary`)
    }
  }
  const sorted = [...partitions].sort((a, b) => a.offset - b.offset)
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]
    if (before.offset + before.size > sorted[i].offset) {
      throw new PartitionTableError(
        'invalid',
        `partitions ${before.label} (${hex(before.offset)}, ${hex(before.size)} bytes) and ${sorted[i].label} (${hex(sorted[i].offset)}) overlap`
      )
    }
  }
}
