import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { applySequentialPatch } from '../../delta/apply'
import { createSequentialPatch } from '../../delta/detools-patch'
import { applyEspDeltaPatch, createEspDeltaPatch } from '../../delta/esp-delta-patch'
import { CliRefusal, UsageError, print } from '../io'
import type { Command } from '../command'
import { readInputFile } from '../flags'

function threeFiles(positionals: string[], names: string): [string, string, string] {
  if (positionals.length !== 3) throw new UsageError(`name exactly three files: ${names}`)
  return [positionals[0], positionals[1], positionals[2]]
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

export const deltaCommands: Command[] = [
  {
    name: 'delta make',
    usage: 'delta make BASE.bin NEW.bin OUT.patch [--raw]',
    arguments: ['BASE.bin', 'NEW.bin', 'OUT.patch'],
    summary: 'make the esp_delta_ota patch from BASE to NEW (64-byte header + detools sequential bsdiff/heatshrink); --raw leaves the header out',
    options: { raw: { type: 'boolean' } },
    async run({ values, positionals }, io) {
      const [baseFile, newFile, outFile] = threeFiles(positionals, 'BASE.bin NEW.bin OUT.patch')
      const base = readInputFile(io, baseFile)
      const target = readInputFile(io, newFile)
      const patch = values.raw === true ? createSequentialPatch(base, target) : createEspDeltaPatch(base, target)
      fs.writeFileSync(path.resolve(io.cwd, outFile), patch)
      print(io, `${patch.length} bytes (${((100 * patch.length) / Math.max(1, target.length)).toFixed(1)}% of ${target.length}) sha256 ${sha256(patch)}`)
    },
  },
  {
    name: 'delta apply',
    usage: 'delta apply BASE.bin PATCH OUT.bin [--raw]',
    arguments: ['BASE.bin', 'PATCH', 'OUT.bin'],
    summary: 'apply an esp_delta_ota patch (or, with --raw, a bare detools sequential patch) to BASE; prints the result\'s sha256',
    options: { raw: { type: 'boolean' } },
    async run({ values, positionals }, io) {
      const [baseFile, patchFile, outFile] = threeFiles(positionals, 'BASE.bin PATCH OUT.bin')
      const base = readInputFile(io, baseFile)
      const patch = readInputFile(io, patchFile)
      let image: Buffer
      try {
        image = values.raw === true ? applySequentialPatch(base, patch) : applyEspDeltaPatch(base, patch)
      } catch (err) {
        throw new CliRefusal(`${patchFile}: ${(err as Error).message}`)
      }
      fs.writeFileSync(path.resolve(io.cwd, outFile), image)
      print(io, `${image.length} bytes sha256 ${sha256(image)}`)
    },
  },
]
