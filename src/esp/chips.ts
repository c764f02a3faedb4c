import { Type } from '@sinclair/typebox'

// Names as ESP-IDF targets spell them; ids as the image header's chip_id field holds them.
export const CHIP_NAMES = [
  'esp32',
  'esp32s2',
  'esp32c3',
  'esp32s3',
  'esp32c2',
  'esp32c6',
  'esp32h2',
  'esp32p4',
  'esp32c61',
  'esp32c5',
] as const

export type ChipName = (typeof CHIP_NAMES)[number]

export const CHIPS: Readonly<Record<ChipName, number>> = Object.freeze({
  esp32: 0,
  esp32s2: 2,
  esp32c3: 5,
  esp32s3: 9,
  esp32c2: 12,
  esp32c6: 13,
  esp32h2: 16,
  esp32p4: 18,
  esp32c61: 20,
  esp32c5: 23,
})

const NAME_BY_ID = new Map<number, ChipName>(CHIP_NAMES.map((name) => [CHIPS[name], name]))

/** For CLI and API validation: one of the chip names above. */
export const ChipNameSchema = Type.Union(CHIP_NAMES.map((name) => Type.Literal(name)))

export function isChipName(name: string): name is ChipName {
  return (CHIP_NAMES as readonly string[]).includes(name)
}

export function chipName(id: number): ChipName | undefined {
  return NAME_BY_ID.get(id)
}

export function chipId(name: string): number | undefined {
  return isChipName(name) ? CHIPS[name] : undefined
}

/**
 * Where the second-stage bootloader sits in flash, per chip (esptool's BOOTLOADER_FLASH_OFFSET):
 * behind a 4 KiB reserved sector on ESP32 and ESP32-S2, 8 KiB on ESP32-P4 and ESP32-C5.
 */
export const BOOTLOADER_OFFSETS: Readonly<Record<ChipName, number>> = Object.freeze({
  esp32: 0x1000,
  esp32s2: 0x1000,
  esp32c3: 0x0,
  esp32s3: 0x0,
  esp32c2: 0x0,
  esp32c6: 0x0,
  esp32h2: 0x0,
  esp32p4: 0x2000,
  esp32c61: 0x0,
  esp32c5: 0x2000,
})

/** Espressif's product names, as ESP Web Tools' `chipFamily` and esptool-js spell them. */
export const CHIP_FAMILIES = Object.freeze({
  esp32: 'ESP32',
  esp32s2: 'ESP32-S2',
  esp32c3: 'ESP32-C3',
  esp32s3: 'ESP32-S3',
  esp32c2: 'ESP32-C2',
  esp32c6: 'ESP32-C6',
  esp32h2: 'ESP32-H2',
  esp32p4: 'ESP32-P4',
  esp32c61: 'ESP32-C61',
  esp32c5: 'ESP32-C5',
} as const satisfies Record<ChipName, string>)

export type ChipFamily = (typeof CHIP_FAMILIES)[ChipName]
