import { crc32 } from 'node:zlib'
import { BOOTLOADER_OFFSETS, CHIP_FAMILIES, CHIPS, chipName, type ChipName } from './chips'
import { EspImageError, readEspImage } from './esp-image'
import {
  APP_SUBTYPE_OTA_0,
  isFactoryApp,
  isOtaApp,
  isOtaData,
  parsePartitionTable,
  PARTITION_TABLE_OFFSET,
  PartitionTableError,
  type Partition,
} from './partition-table'

// A factory image: the whole flash from address 0 as `esptool merge_bin` writes it (bootloader at
// the chip's offset, partition table at 0x8000, boot_app0/otadata, the application in its slot, 0xFF
// between them), flashed once over USB by a browser installer. Checked without trusting any field.

export type FactoryImageReason =
  | 'bootloader_invalid'
  | 'bootloader_chip_mismatch'
  | 'partition_table_invalid'
  | 'partition_table_md5_mismatch'
  | 'no_otadata'
  | 'too_few_ota_slots'
  | 'ota_slot_too_small'
  | 'app_mismatch'
  | 'too_large_for_flash'

export class FactoryImageError extends Error {
  constructor(
    readonly reason: FactoryImageReason,
    message: string
  ) {
    super(message)
    this.name = 'FactoryImageError'
  }
}

/** What the image must suit: the board's chip and OTA slot, and the release's application image. */
export interface FactoryImageTarget {
  board: string
  chip: ChipName
  slotSize: number
  app: Buffer
}

/** How the first boot picks its application (see bootPartition). */
export type BootChoice = 'otadata' | 'factory' | 'ota_0'

export interface FactoryImageFacts {
  size: number
  bootloaderOffset: number
  flashSize: number
  partitionTableOffset: number
  partitions: Partition[]
  otaSlots: number
  /** the partition the bootloader starts on a freshly flashed device; the application's bytes sit there */
  appPartition: Partition
  bootChoice: BootChoice
}

const hex = (n: number) => `0x${n.toString(16)}`
const MB = 1024 * 1024

// esp_ota_select_entry_t: ota_seq u32, seq_label[20], ota_state u32, crc u32; one per 4 KiB sector.
const OTADATA_SECTOR = 0x1000
const OTA_STATE_INVALID = 3
const OTA_STATE_ABORTED = 4

/** The active otadata entry's ota_seq, as the bootloader picks it (the highest valid one), or null when both are erased or invalid. */
function activeOtaSeq(image: Buffer, otadata: Partition): number | null {
  let best: number | null = null
  for (const at of [otadata.offset, otadata.offset + OTADATA_SECTOR]) {
    // Bytes past the end of the image are not written by it: erased on a new module, and the installer offers to erase.
    if (at + 32 > image.length) continue
    const seq = image.readUInt32LE(at)
    const state = image.readUInt32LE(at + 24)
    const valid =
      seq !== 0xffffffff &&
      state !== OTA_STATE_INVALID &&
      state !== OTA_STATE_ABORTED &&
      image.readUInt32LE(at + 28) === crc32(image.subarray(at, at + 4), 0xffffffff)
    if (valid && (best === null || seq > best)) best = seq
  }
  return best
}

/**
 * The application partition a freshly flashed device boots, as ESP-IDF's bootloader chooses it
 * (bootloader_utility_get_selected_boot_partition): the OTA slot the valid otadata entry selects
 * ((ota_seq - 1) mod the number of OTA slots; boot_app0.bin selects ota_0); with otadata erased, the
 * factory partition if there is one, else ota_0. esptool merge_bin puts the app at 0x10000, which
 * is ota_0 (or factory) in the usual tables.
 */
function bootPartition(image: Buffer, partitions: Partition[], otadata: Partition): { partition: Partition | undefined; choice: BootChoice } {
  const slots = partitions.filter(isOtaApp).sort((a, b) => a.subtype - b.subtype)
  const seq = activeOtaSeq(image, otadata)
  if (seq !== null) {
    const subtype = APP_SUBTYPE_OTA_0 + ((seq - 1) % slots.length)
    return { partition: slots.find((p) => p.subtype === subtype), choice: 'otadata' }
  }
  const factory = partitions.find(isFactoryApp)
  if (factory) return { partition: factory, choice: 'factory' }
  return { partition: slots.find((p) => p.subtype === APP_SUBTYPE_OTA_0), choice: 'ota_0' }
}

function flashSizeBytes(name: string): number | undefined {
  const m = /^([0-9]+)MB$/.exec(name)
  return m ? Number(m[1]) * MB : undefined
}

function checkBootloader(image: Buffer, target: FactoryImageTarget): { offset: number; flashSize: number } {
  const offset = BOOTLOADER_OFFSETS[target.chip]
  const family = CHIP_FAMILIES[target.chip]
  const fail = (why: string) =>
    new FactoryImageError(
      'bootloader_invalid',
      `the bootloader at ${hex(offset)} (where ${family} boots it) ${why}: merge the bootloader.bin of this build with esptool merge_bin --chip ${target.chip}`
    )
  if (image.length <= PARTITION_TABLE_OFFSET) throw fail(`and the partition table at ${hex(PARTITION_TABLE_OFFSET)} are missing: the image is only ${image.length} bytes`)
  let info
  try {
    info = readEspImage(image.subarray(offset, PARTITION_TABLE_OFFSET))
  } catch (err) {
    if (err instanceof EspImageError) throw fail(`is not a valid ESP image (${err.reason}: ${err.message})`)
    throw err
  }
  if (!info.checksumValid) throw fail(`has a bad checksum (${hex(info.checksum)}, segments XOR to ${hex(info.calculatedChecksum)})`)
  if (info.hashValid === false) throw fail('has an appended SHA-256 that does not match its bytes')
  if (info.app !== null) throw fail('is an application, not a bootloader')
  if (info.chipId !== CHIPS[target.chip]) {
    throw new FactoryImageError(
      'bootloader_chip_mismatch',
      `the bootloader at ${hex(offset)} is built for ${chipName(info.chipId) ?? 'an unknown chip'} (chip id ${info.chipId}), but board ${target.board} is ` +
        `${family}: build the firmware (bootloader included) for ${target.chip}`
    )
  }
  const flashSize = flashSizeBytes(info.flashSize)
  if (flashSize === undefined) throw fail(`declares flash size ${info.flashSize}`)
  return { offset, flashSize }
}

/**
 * Checks a merged flash image for a board and a release, as the server does before accepting it
 * and `release verify --factory` does offline. Throws FactoryImageError naming the first check
 * that fails and what to fix.
 */
export function checkFactoryImage(image: Buffer, target: FactoryImageTarget): FactoryImageFacts {
  const bootloader = checkBootloader(image, target)

  let table
  try {
    table = parsePartitionTable(image.subarray(PARTITION_TABLE_OFFSET))
  } catch (err) {
    if (err instanceof PartitionTableError) {
      throw new FactoryImageError(
        err.reason === 'md5_mismatch' ? 'partition_table_md5_mismatch' : 'partition_table_invalid',
        `the partition table at ${hex(PARTITION_TABLE_OFFSET)}: ${err.message}`
      )
    }
    throw err
  }
  const { partitions } = table

  const otadata = partitions.find(isOtaData)
  if (!otadata) {
    throw new FactoryImageError(
      'no_otadata',
      'the partition table has no otadata partition (type data, subtype ota): without it the device cannot take an OTA update; use a table with two OTA slots such as min_spiffs'
    )
  }
  const slots = partitions.filter(isOtaApp)
  if (slots.length < 2) {
    throw new FactoryImageError(
      'too_few_ota_slots',
      `the partition table has ${slots.length} OTA app slot(s) (${slots.map((p) => p.label).join(', ') || 'none'}); OTA updates need at least two (ota_0 and ota_1): use a table such as min_spiffs`
    )
  }
  const small = slots.filter((p) => p.size < target.slotSize)
  if (small.length > 0) {
    throw new FactoryImageError(
      'ota_slot_too_small',
      `OTA slot(s) ${small.map((p) => `${p.label} (${p.size} bytes)`).join(', ')} are smaller than the ${target.slotSize}-byte slot of board ${target.board}: ` +
        'releases the server accepts would not fit; use the partition table the board is defined with'
    )
  }

  const end = Math.max(image.length, ...partitions.map((p) => p.offset + p.size))
  if (end > bootloader.flashSize) {
    const what = end === image.length ? `the image is ${image.length} bytes` : `the partitions reach ${hex(end)}`
    throw new FactoryImageError(
      'too_large_for_flash',
      `${what}, past the ${bootloader.flashSize / MB} MB of flash the bootloader header declares: ` +
        'merge with --flash_size set to the module’s flash (4MB on an ESP32-CAM) and a partition table that fits it'
    )
  }

  const boot = bootPartition(image, partitions, otadata)
  if (boot.partition === undefined) {
    throw new FactoryImageError('partition_table_invalid', 'otadata selects an OTA slot the partition table does not have: merge boot_app0.bin (or an erased otadata) instead')
  }
  checkApp(image, boot.partition, target)
  return {
    size: image.length,
    bootloaderOffset: bootloader.offset,
    flashSize: bootloader.flashSize,
    partitionTableOffset: PARTITION_TABLE_OFFSET,
    partitions,
    otaSlots: slots.length,
    appPartition: boot.partition,
    bootChoice: boot.choice,
  }
}

/** The bytes the first boot runs must be the release's application, byte for byte. */
function checkApp(image: Buffer, partition: Partition, target: FactoryImageTarget): void {
  const { app } = target
  const where = `partition ${partition.label} at ${hex(partition.offset)}, which the first boot runs`
  const fix = 'merge the application .bin of this release at that offset (esptool merge_bin … 0x10000 firmware.app.bin)'
  if (app.length > partition.size) {
    throw new FactoryImageError('app_mismatch', `the release's application (${app.length} bytes) does not fit ${where} (${partition.size} bytes)`)
  }
  const found = image.subarray(partition.offset, partition.offset + app.length)
  if (found.length < app.length) {
    throw new FactoryImageError(
      'app_mismatch',
      `the image ends at ${hex(image.length)}, ${app.length - found.length} bytes short of the release's application in ${where}: ${fix}`
    )
  }
  if (!found.equals(app)) {
    let at = 0
    while (found[at] === app[at]) at++
    throw new FactoryImageError(
      'app_mismatch',
      `the bytes in ${where} differ from the release's application from byte ${hex(at)} on (flash ${hex(partition.offset + at)}): ` +
        `the factory image must carry exactly the build being released; ${fix}`
    )
  }
}
