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
