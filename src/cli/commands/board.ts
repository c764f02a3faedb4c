import { CHIP_NAMES, CHIPS, isChipName } from '../../esp/chips'
import { NAME_FORM } from '../../schemas/common'
import { BoardExists } from '../../repositories/boards'
import { withDataFolder } from '../data-folder'
import { CliRefusal, UsageError, print, table } from '../io'
import type { Command } from '../command'


/** Decimal bytes or 0x-prefixed hex (partition tables write sizes as 0x1E0000). */
function parseSlotSize(text: string | undefined): number {
  if (text === undefined) throw new UsageError('--slot-size BYTES is required (the OTA app partition size, e.g. 1966080 or 0x1E0000)')
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`--slot-size must be a positive number of bytes, got "${text}"`)
  return value
}

export const boardCommands: Command[] = [
  {
    name: 'board add',
    arguments: ['NAME'],
    usage: `board add NAME --chip ${CHIP_NAMES.join('|')} --slot-size BYTES`,
    summary: 'add a hardware target: its chip and the size of its OTA app slot',
    options: { chip: { type: 'string' }, 'slot-size': { type: 'string' } },
    async run({ values, positionals }, io) {
      if (positionals.length !== 1) throw new UsageError('name exactly one board')
      const name = positionals[0]
      if (!NAME_FORM.test(name)) throw new UsageError(`"${name}" is not a board name: 1-32 lowercase letters, digits, "_" or "-", starting with a letter or digit`)
      const chip = values.chip as string | undefined
      if (!chip || !isChipName(chip)) throw new UsageError(`--chip must be one of ${CHIP_NAMES.join(', ')}`)
      const slotSize = parseSlotSize(values['slot-size'] as string | undefined)
      await withDataFolder(io, async (repos) => {
        try {
          await repos.boards.add({ name, chip, chip_id: CHIPS[chip], slot_size: slotSize })
        } catch (err) {
          if (err instanceof BoardExists) throw new CliRefusal(err.message)
          throw err
        }
      })
      print(io, `added board ${name}: ${chip} (chip id ${CHIPS[chip]}), OTA slot ${slotSize} bytes`)
    },
  },
  {
    name: 'board delta',
    usage: 'board delta NAME on|off',
    arguments: ['NAME', 'on|off'],
    summary: 'turn delta updates (esp_delta_ota patches in manifests) on or off for a board',
    async run({ positionals }, io) {
      if (positionals.length !== 2 || !['on', 'off'].includes(positionals[1])) throw new UsageError('name a board and on or off')
      const [name, setting] = positionals
      const known = await withDataFolder(io, (repos) => repos.deltaPatches.setBoardDelta(name, setting === 'on'))
      if (!known) throw new CliRefusal(`board ${name} is not known (see \`ota-gate board list\`)`)
      print(io, `delta updates ${setting} for board ${name}`)
    },
  },
  {
    name: 'board list',
    usage: 'board list',
    summary: 'list boards with their chip and OTA slot size',
    async run({ positionals }, io) {
      const boards = await withDataFolder(io, (repos) => repos.boards.list())
      print(io, table(boards.map((b) => ({ ...b, delta: b.delta_enabled === 1 ? 'on' : 'off' })), ['name', 'chip', 'chip_id', 'slot_size', 'delta', 'created_at']))
    },
  },
]
