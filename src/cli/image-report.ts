import { createHash } from 'node:crypto'
import { chipName } from '../esp/chips'
import { EspImageError, parseEspImage } from '../esp/esp-image'
import { releaseImageFacts, type ReleaseImageFacts } from '../release/image-facts'
import { CliRefusal } from './io'

/** The board facts an image is checked against: from the server, or given on the command line. */
export interface BoardTarget {
  name: string
  chip: string
  chip_id: number
  slot_size: number
}

/** What the server would record about a binary, and whether it suits the board. */
export interface ImageReport extends ReleaseImageFacts {
  board: string
  size: number
  sha256: string
  md5: string
  chip_id: number
  hash_appended: boolean
  secure_boot_signed: boolean
  slot_size: number
  fits_slot: boolean
  chip_matches: boolean
  /** empty when the server would accept the image for this board */
  problems: string[]
}

const chipLabel = (id: number) => `${chipName(id) ?? 'unknown chip'} (chip id ${id})`

/**
 * Reads the binary with the server's own parser (src/esp/esp-image.ts) and compares it with the
 * board. Throws CliRefusal when the bytes are not an application image at all.
 */
export function inspectImage(bytes: Buffer, board: BoardTarget): ImageReport {
  let image
  try {
    image = parseEspImage(bytes)
  } catch (err) {
    if (err instanceof EspImageError) throw new CliRefusal(`the file is not a valid ESP application image (${err.reason}): ${err.message}`)
    throw err
  }
  const problems: string[] = []
  const chipMatches = image.chipId === board.chip_id
  if (!chipMatches) {
    problems.push(`the image is built for ${chipLabel(image.chipId)}, but board ${board.name} is ${chipLabel(board.chip_id)}: build for ${board.chip}`)
  }
  const fits = bytes.length <= board.slot_size
  if (!fits) {
    problems.push(
      `the image is ${bytes.length} bytes, ${bytes.length - board.slot_size} more than the ${board.slot_size}-byte OTA slot of board ${board.name}: make the build smaller`
    )
  }
  return {
    board: board.name,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    md5: createHash('md5').update(bytes).digest('hex'),
    ...releaseImageFacts(image),
    chip_id: image.chipId,
    hash_appended: image.hashAppended,
    secure_boot_signed: image.secureBootSignature !== null,
    slot_size: board.slot_size,
    fits_slot: fits,
    chip_matches: chipMatches,
    problems,
  }
}

/** The report as aligned `name: value` lines. */
export function formatImageReport(report: ImageReport): string {
  const rows: Array<[string, string]> = [
    ['board', report.board],
    ['size', `${report.size} bytes (slot ${report.slot_size}: ${report.fits_slot ? `fits, ${report.slot_size - report.size} bytes free` : 'DOES NOT FIT'})`],
    ['chip', `${report.chip ?? `unknown (chip id ${report.chip_id})`}${report.chip_matches ? '' : " (NOT the board's chip)"}`],
    ['sha256', report.sha256],
    ['md5', report.md5],
    ['project', report.project_name],
    ['app version', report.app_version],
    ['idf version', report.idf_version],
    ['secure version', String(report.secure_version)],
    ['built', `${report.build_date} ${report.build_time}`],
    ['hash appended', report.hash_appended ? 'yes' : 'no'],
    ['secure boot', report.secure_boot_signed ? 'signed (V2)' : 'unsigned'],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n')
}
