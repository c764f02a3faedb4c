import fs from 'node:fs'
import { createEspDeltaPatch } from '../src/delta/esp-delta-patch'
import { buildEspImage, largeCodeChange, reviseEspImage, smallCodeChange } from '../test/support/esp-image-builder'

// One delta patch made in a process of its own, so that its peak memory is the generation's.
// Run as: node delta-generate.js <image bytes> <small|large> [<dir to write base.bin, new.bin, patch.bin>]; prints one JSON line.

export interface GenerateResult {
  change: 'small' | 'large'
  image_bytes: number
  patch_bytes: number
  ms: number
  /** resident memory before the patch was made (the two images are in it) and at its peak */
  rss_before_mb: number
  peak_rss_mb: number
}

function main(): void {
  const [sizeArg, change, outDir] = process.argv.slice(2)
  if (change !== 'small' && change !== 'large') throw new Error('usage: delta-generate.js BYTES small|large [DIR]')
  const base = buildEspImage({ version: 'base', size: Number(sizeArg) })
  const target = reviseEspImage(base, (code) => (change === 'small' ? smallCodeChange(code) : largeCodeChange(code)))
  const rssBefore = process.memoryUsage().rss
  const t0 = performance.now()
  const patch = createEspDeltaPatch(base, target)
  const ms = performance.now() - t0
  if (outDir) {
    fs.writeFileSync(`${outDir}/base.bin`, base)
    fs.writeFileSync(`${outDir}/new.bin`, target)
    fs.writeFileSync(`${outDir}/patch.bin`, patch)
  }
  const result: GenerateResult = {
    change,
    image_bytes: target.length,
    patch_bytes: patch.length,
    ms: Math.round(ms),
    rss_before_mb: Math.round(rssBefore / 1e5) / 10,
    // maxRSS is in kilobytes.
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 102.4) / 10,
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main()
