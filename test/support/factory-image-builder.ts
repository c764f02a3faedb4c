import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { BOOTLOADER_OFFSETS, CHIPS, type ChipName } from '../../src/esp/chips'
import { readEspImage } from '../../src/esp/esp-image'
import { buildEspImage } from './esp-image-builder'

// Factory images laid out as `esptool merge_bin` writes them, from parts written the way Espressif's
// tools write them: a bootloader, a partition table in gen_esp32part.py's binary format, boot_app0.bin
// (otadata selecting ota_0) and an application.

const FIXTURES = path.join(path.resolve(__dirname, '..', '..', '../shared'), 'fixtures', 'esp-images')

/** The real ESP-IDF v5.2 ESP32 bootloader of ../shared, or undefined where that folder is absent. */
export function realEsp32Bootloader(): Buffer | undefined {
  const file = path.join(FIXTURES, 'bootloader_esp32_v5_2.bin')
  return fs.existsSync(file) ? fs.readFileSync(file) : undefined
}

/** A valid ESP image for `chip` without an application descriptor, as a bootloader is (checksum, appended SHA-256). */
export function generatedBootloader(chip: ChipName = 'esp32'): Buffer {
  return buildEspImage({ chipId: CHIPS[chip], appDescriptor: false, size: 0x3000, seed: 7 })
}

// gen_esp32part.py's TYPES and SUBTYPES, for the names a partitions.csv uses.
const TYPES = { app: 0x00, data: 0x01 } as const
const SUBTYPES: Record<string, number> = {
  factory: 0x00, test: 0x20, ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`ota_${i}`, 0x10 + i])),
  ota: 0x00, phy: 0x01, nvs: 0x02, coredump: 0x03, nvs_keys: 0x04, efuse: 0x05, spiffs: 0x82, littlefs: 0x83, fat: 0x81,
}

/** A line of partitions.csv: name, type, subtype, offset, size. */
export type PartitionRow = [name: string, type: keyof typeof TYPES, subtype: string, offset: number, size: number]

/** arduino-esp32's tools/partitions/min_spiffs.csv, the ESP32-CAM fleet's table. */
export const MIN_SPIFFS: PartitionRow[] = [
  ['nvs', 'data', 'nvs', 0x9000, 0x5000],
  ['otadata', 'data', 'ota', 0xe000, 0x2000],
  ['app0', 'app', 'ota_0', 0x10000, 0x1e0000],
  ['app1', 'app', 'ota_1', 0x1f0000, 0x1e0000],
  ['spiffs', 'data', 'spiffs', 0x3d0000, 0x20000],
  ['coredump', 'data', 'coredump', 0x3f0000, 0x10000],
]

/** The binary gen_esp32part.py writes for these rows: 32-byte entries, the MD5 entry (unless disabled), 0xFF to 0xC00. */
export function partitionTableBinary(rows: PartitionRow[], options: { md5?: boolean } = {}): Buffer {
  const entries = rows.map(([name, type, subtype, offset, size]) => {
    const entry = Buffer.alloc(32)
    entry[0] = 0xaa
    entry[1] = 0x50
    entry[2] = TYPES[type]
    entry[3] = SUBTYPES[subtype]
    entry.writeUInt32LE(offset, 4)
    entry.writeUInt32LE(size, 8)
    Buffer.from(name, 'latin1').copy(entry, 12, 0, 16)
    return entry
  })
  const body = Buffer.concat(entries)
  const md5 = options.md5 === false ? [] : [Buffer.from([0xeb, 0xeb]), Buffer.alloc(14, 0xff), createHash('md5').update(body).digest()]
  const table = Buffer.concat([body, ...md5])
  return Buffer.concat([table, Buffer.alloc(0xc00 - table.length, 0xff)])
}

/** arduino-esp32's boot_app0.bin: otadata whose first entry (ota_seq 1, CRC32 of it) selects ota_0; 8 KiB. */
export function bootApp0(): Buffer {
  const otadata = Buffer.alloc(0x2000, 0xff)
  otadata.writeUInt32LE(1, 0)
  otadata.writeUInt32LE(crc32(otadata.subarray(0, 4), 0xffffffff), 28)
  return otadata
}

const FLASH_SIZE_CODES: Record<string, number> = { '1MB': 0, '2MB': 1, '4MB': 2, '8MB': 3, '16MB': 4 }

/**
 * `esptool --chip CHIP merge_bin --flash_size SIZE -o merged.bin OFFSET FILE …`: the output starts
 * at flash address 0, each file at its offset with 0xFF between; the bootloader's header gets the
 * flash size and, as esptool does, its appended SHA-256 is computed again.
 */
export function mergeBin(chip: ChipName, parts: Array<[offset: number, bytes: Buffer]>, options: { flashSize?: string } = {}): Buffer {
  const sorted = [...parts].sort((a, b) => a[0] - b[0])
  const last = sorted[sorted.length - 1]
  const out = Buffer.alloc(last[0] + last[1].length, 0xff)
  for (const [offset, bytes] of sorted) {
    let part = bytes
    // Like esptool, only a part that starts as an image gets its header changed.
    if (offset === BOOTLOADER_OFFSETS[chip] && options.flashSize !== undefined && bytes[0] === 0xe9) {
      part = Buffer.from(bytes)
      part[3] = (FLASH_SIZE_CODES[options.flashSize] << 4) | (part[3] & 0x0f)
      const info = readEspImage(part)
      if (info.hashAppended) {
        const signedEnd = info.checksumOffset + 1
        createHash('sha256').update(part.subarray(0, signedEnd)).digest().copy(part, signedEnd)
      }
    }
    part.copy(out, offset)
  }
  return out
}

export interface FactoryParts {
  chip?: ChipName
  app: Buffer
  bootloader?: Buffer
  table?: Buffer
  otadata?: Buffer
  flashSize?: string
  /** where the application goes; 0x10000 as in Arduino's and ESP-IDF's builds */
  appOffset?: number
}

/** A factory image as an ESP32-CAM firmware build merges it: min_spiffs, boot_app0, the app at 0x10000, 4 MB. */
export function factoryImage(parts: FactoryParts): Buffer {
  const chip = parts.chip ?? 'esp32'
  return mergeBin(
    chip,
    [
      [BOOTLOADER_OFFSETS[chip], parts.bootloader ?? generatedBootloader(chip)],
      [0x8000, parts.table ?? partitionTableBinary(MIN_SPIFFS)],
      [0xe000, parts.otadata ?? bootApp0()],
      [parts.appOffset ?? 0x10000, parts.app],
    ],
    { flashSize: parts.flashSize ?? '4MB' }
  )
}
