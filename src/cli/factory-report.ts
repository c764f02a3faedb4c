import { createHash } from 'node:crypto'
import { isChipName } from '../esp/chips'
import { checkFactoryImage, FactoryImageError, type BootChoice } from '../esp/factory-image'
import { FACTORY_REFUSALS } from '../release/factory'
import type { BoardTarget } from './image-report'

/** What the server would record about a factory image, and why it would refuse it. */
export interface FactoryReport {
  size: number
  sha256: string
  md5: string
  bootloader_offset: number | null
  flash_size: number | null
  app_partition: { label: string; offset: number; size: number } | null
  boot_choice: BootChoice | null
  partitions: Array<{ label: string; type: number; subtype: number; offset: number; size: number }>
  /** `code: message` lines, as the server's refusal would read; empty when it would accept the image */
  problems: string[]
}

const hex = (n: number) => `0x${n.toString(16)}`

/** Checks a factory image for a board and the release's application with the server's own checks (src/esp/factory-image.ts). */
export function inspectFactoryImage(bytes: Buffer, board: BoardTarget, app: Buffer): FactoryReport {
  const base = {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
  }
  if (!isChipName(board.chip)) {
    return { ...base, bootloader_offset: null, flash_size: null, app_partition: null, boot_choice: null, partitions: [], problems: [`board ${board.name} has chip ${board.chip}, unknown here`] }
  }
  try {
    const facts = checkFactoryImage(bytes, { board: board.name, chip: board.chip, slotSize: board.slot_size, app })
    const { label, offset, size } = facts.appPartition
    return {
      ...base,
      bootloader_offset: facts.bootloaderOffset,
      flash_size: facts.flashSize,
      app_partition: { label, offset, size },
      boot_choice: facts.bootChoice,
      partitions: facts.partitions.map((p) => ({ label: p.label, type: p.type, subtype: p.subtype, offset: p.offset, size: p.size })),
      problems: [],
    }
  } catch (err) {
    if (!(err instanceof FactoryImageError)) throw err
    return { ...base, bootloader_offset: null, flash_size: null, app_partition: null, boot_choice: null, partitions: [], problems: [`${FACTORY_REFUSALS[err.reason]}: ${err.message}`] }
  }
}

/** The report as aligned `name: value` lines. */
export function formatFactoryReport(r: FactoryReport): string {
  const rows: Array<[string, string]> = [
    ['factory', `${r.size} bytes`],
    ['sha256', r.sha256],
    ['md5', r.md5],
  ]
  if (r.problems.length === 0) {
    rows.push(
      ['bootloader', hex(r.bootloader_offset as number)],
      ['flash', `${(r.flash_size as number) / (1024 * 1024)} MB`],
      ['first boot', `${r.app_partition?.label} at ${hex(r.app_partition?.offset as number)} (${r.boot_choice}): the release's application, byte for byte`],
      ['partitions', r.partitions.map((p) => `${p.label}@${hex(p.offset)}+${hex(p.size)}`).join(' ')]
    )
  } else {
    rows.push(['refused', r.problems.join('; ')])
  }
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n')
}
