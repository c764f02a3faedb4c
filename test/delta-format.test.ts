import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { PatchError, SequentialPatchApplier, applySequentialPatch } from '../src/delta/apply'
import { createSequentialPatch } from '../src/delta/detools-patch'
import { ESP_DELTA_MAGIC, runningPartitionDigest } from '../src/delta/esp-delta-header'
import { EspDeltaMismatch, applyEspDeltaPatch, createEspDeltaPatch } from '../src/delta/esp-delta-patch'
import { HeatshrinkDecoder, HeatshrinkEncoder } from '../src/delta/heatshrink'
import { SizeReader, packSize } from '../src/delta/pack-size'
import { suffixArray } from '../src/delta/suffix-array'
import { buildEspImage, largeCodeChange, reviseEspImage, seededBytes, smallCodeChange } from './support/esp-image-builder'

// The delta format itself: Espressif's own test vectors where ../shared is present, and round trips on
// images the test makes everywhere.

const projectRoot = path.resolve(__dirname, '..')
const vectors = path.join(path.resolve(projectRoot, '../shared'), 'fixtures', 'esp-delta')
const haveVectors = fs.existsSync(path.join(vectors, 'patch.bin'))
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const read = (name: string): Buffer => fs.readFileSync(path.join(vectors, name))

t.test("Espressif's esp_delta_ota test vectors", { skip: haveVectors ? false : `no ${vectors}` }, async (t) => {
  const base = read('base.bin')
  const target = read('new.bin')
  t.test('the generator makes patch.bin byte for byte', async (t) => {
    const made = createSequentialPatch(base, target)
    t.equal(made.length, read('patch.bin').length)
    t.equal(sha256(made), sha256(read('patch.bin')))
  })
  t.test('the applier turns base.bin and patch.bin into new.bin', async (t) => {
    t.equal(sha256(applySequentialPatch(base, read('patch.bin'))), sha256(target))
  })
  t.test('bad_patch.bin applies to an image whose SHA-256 is not the release', async (t) => {
    let out: Buffer | undefined
    try {
      out = applySequentialPatch(base, read('bad_patch.bin'))
    } catch (err) {
      t.type(err, PatchError, 'refused as a bad patch')
    }
    if (out !== undefined) t.not(sha256(out), sha256(target), 'the hash check catches it')
  })
})

t.test('pack_size round-trips and matches detools for known values', async (t) => {
  t.same([...packSize(0)], [0x00])
  t.same([...packSize(1277)], [0xbd, 0x13])
  t.same([...packSize(-1)], [0x41])
  t.same([...packSize(63)], [0x3f])
  t.same([...packSize(64)], [0x80, 0x01])
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (value) => {
      const reader = new SizeReader()
      let got: number | undefined
      for (const byte of packSize(value)) got = reader.push(byte)
      return got === value
    })
  )
})

t.test('the suffix array sorts every suffix, the empty one first', async (t) => {
  const naive = (data: Uint8Array): number[] => {
    const order = Array.from({ length: data.length + 1 }, (_, i) => i)
    return order.sort((a, b) => Buffer.compare(Buffer.from(data.subarray(a)), Buffer.from(data.subarray(b))))
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 4 }), (data, alphabet) => {
      const text = data.map((b) => b % alphabet)
      t.same([...suffixArray(text)], naive(text))
      return true
    }),
    { numRuns: 150 }
  )
})

t.test('heatshrink: decoding what the encoder wrote gives the input back, fed in any pieces', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 700 }), (data, piece) => {
      const params = { windowBits: 8, lookaheadBits: 7 }
      const encoder = new HeatshrinkEncoder(params)
      const chunks: Buffer[] = []
      for (let at = 0; at < data.length; at += piece) chunks.push(encoder.write(data.subarray(at, at + piece)))
      chunks.push(encoder.finish())
      const out: number[] = []
      const decoder = new HeatshrinkDecoder(params)
      for (const byte of Buffer.concat(chunks)) decoder.write(Uint8Array.of(byte), (b) => out.push(b))
      t.same(Buffer.from(out), Buffer.from(data))
      return true
    }),
    { numRuns: 100 }
  )
})

function roundTrip(t: Test, base: Buffer, target: Buffer): Buffer {
  const patch = createEspDeltaPatch(base, target)
  t.equal(patch.readUInt32LE(0), ESP_DELTA_MAGIC, 'the header starts with the esp_delta_ota magic')
  t.ok(patch.subarray(4, 36).equals(runningPartitionDigest(base)), "the header carries the base's validation hash")
  t.ok(patch.subarray(36, 64).equals(Buffer.alloc(28)), 'the rest of the header is zeros')
  t.equal(sha256(applyEspDeltaPatch(base, patch)), sha256(target), 'the applier rebuilds the target')
  return patch
}

t.test('round trips on generated ESP images', async (t) => {
  const base = buildEspImage({ size: 256 * 1024, version: 'mason' })
  t.equal(runningPartitionDigest(base).toString('hex'), base.subarray(base.length - 32).toString('hex'), 'validation hash = the last 32 bytes')

  t.test('a small code change gives a small patch', async (t) => {
    const target = reviseEspImage(base, (code) => smallCodeChange(code))
    const patch = roundTrip(t, base, target)
    t.ok(patch.length < target.length * 0.05, `patch ${patch.length} bytes for ${target.length}`)
  })
  t.test('an SDK-upgrade-sized change still round-trips', async (t) => {
    const target = reviseEspImage(base, (code) => largeCodeChange(code))
    const patch = roundTrip(t, base, target)
    t.ok(patch.length < target.length, `patch ${patch.length} bytes for ${target.length}`)
  })
  t.test('identical images give a patch of almost nothing', async (t) => {
    const patch = roundTrip(t, base, base)
    // heatshrink's floor: 2 bytes per 128 repeated bytes.
    t.ok(patch.length < base.length / 50, `patch ${patch.length} bytes`)
  })
  t.test('an unrelated image of random bytes', async (t) => {
    roundTrip(t, base, seededBytes(50_000, 99))
  })
  t.test('an empty target', async (t) => {
    t.equal(applySequentialPatch(base, createSequentialPatch(base, Buffer.alloc(0))).length, 0)
  })
  t.test('a patch for another base is refused before anything is written', async (t) => {
    const other = buildEspImage({ size: 64 * 1024, version: 'other' })
    const patch = createEspDeltaPatch(base, reviseEspImage(base, (code) => smallCodeChange(code)))
    t.throws(() => applyEspDeltaPatch(other, patch), EspDeltaMismatch)
  })
  t.test('fed one byte at a time, the streaming applier writes the same image', async (t) => {
    const target = reviseEspImage(base, (code) => smallCodeChange(code, 7))
    const patch = createSequentialPatch(base, target)
    const parts: Buffer[] = []
    let reads = 0
    const applier = new SequentialPatchApplier(
      (offset, length) => {
        reads++
        return base.subarray(offset, offset + length)
      },
      base.length,
      (bytes) => parts.push(bytes)
    )
    for (const byte of patch) applier.write(Uint8Array.of(byte))
    applier.end()
    t.equal(applier.targetSize, target.length)
    t.equal(sha256(Buffer.concat(parts)), sha256(target))
    t.ok(reads < base.length / 1024, `base read in blocks (${reads} reads)`)
  })
})

t.test('round trips on arbitrary bytes (fast-check)', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }), (base, target) => {
      return applySequentialPatch(base, createSequentialPatch(base, target)).equals(Buffer.from(target))
    }),
    { numRuns: 150 }
  )
  // Edits of a base: the case deltas are for.
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 4000 }),
      fc.array(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 40 })), { maxLength: 8 }),
      (base, edits) => {
        let target = Buffer.from(base)
        for (const [at, insert, remove] of edits) {
          const cut = at % (target.length + 1)
          target = Buffer.concat([target.subarray(0, cut), insert, target.subarray(cut + remove)])
        }
        return applySequentialPatch(base, createSequentialPatch(base, target)).equals(target)
      }
    ),
    { numRuns: 150 }
  )
})

t.test('damaged patches are refused or give an image that fails its hash', async (t) => {
  const base = buildEspImage({ size: 64 * 1024 })
  const target = reviseEspImage(base, (code) => smallCodeChange(code))
  const patch = createSequentialPatch(base, target)
  t.throws(() => applySequentialPatch(base, patch.subarray(0, patch.length - 20)), PatchError, 'a truncated patch')
  t.throws(() => applySequentialPatch(base, Buffer.concat([Buffer.from([0x14]), patch.subarray(1)])), PatchError, 'an in-place patch')
  t.throws(() => applySequentialPatch(base, Buffer.concat([Buffer.from([0x01]), patch.subarray(1)])), PatchError, 'lzma compression')
  // Any damage is refused as a bad patch (never another kind of crash), or gives an image the device's
  // SHA-256 check judges: the target itself (a flip in the last byte's padding bits) or a wrong one.
  let refused = 0
  let wrong = 0
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, flip) => {
      const damaged = Buffer.from(patch)
      damaged[at % damaged.length] ^= flip
      try {
        if (sha256(applySequentialPatch(base, damaged)) !== sha256(target)) wrong++
        return true
      } catch (err) {
        refused++
        return err instanceof PatchError
      }
    }),
    { numRuns: 200 }
  )
  t.ok(refused + wrong > 150, `${refused} refused, ${wrong} wrong images out of 200 damaged patches`)
})
