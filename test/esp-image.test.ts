import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import type { Static } from '@sinclair/typebox'
import { CHIPS, CHIP_NAMES, ChipNameSchema, chipId, chipName } from '../src/esp/chips'
import { parseEspImage, readEspImage } from '../src/esp/esp-image'
import { appendSecureBootV2Signature, buildEspImage } from './support/esp-image-builder'
import { assertEspImageRefused as refusal } from './support/esp-image-refusal'

function copy(bytes: Buffer): Buffer {
  return Buffer.from(bytes)
}

const image = buildEspImage()

t.test('chip names and ids map both ways', async (t) => {
  t.equal(chipId('esp32'), 0)
  t.equal(chipId('esp32c5'), 23)
  t.equal(chipId('esp8266'), undefined)
  t.equal(chipName(2), 'esp32s2')
  t.equal(chipName(1), undefined)
  for (const name of CHIP_NAMES) t.equal(chipName(CHIPS[name]), name)
  t.equal(new Set(Object.values(CHIPS)).size, CHIP_NAMES.length, 'ids are distinct')
  const name: Static<typeof ChipNameSchema> = 'esp32s3'
  t.ok(Value.Check(ChipNameSchema, name), 'the TypeBox schema accepts a chip name')
  t.notOk(Value.Check(ChipNameSchema, 'esp8266'), 'and refuses an unknown one')
  t.notOk(Value.Check(ChipNameSchema, 0), 'and an id')
})

t.test('a generated image parses with the facts it was built with', async (t) => {
  const img = parseEspImage(image)
  t.equal(img.size, image.length)
  t.equal(img.imageLength, image.length)
  t.ok(img.size > 60_000 && img.size < 72_000, `about 64 KiB (${img.size})`)
  t.equal(img.chipId, 0)
  t.equal(img.chip, 'esp32')
  t.equal(img.entryPoint, 0x40081088)
  t.equal(img.flashMode, 'DIO')
  t.equal(img.flashSize, '2MB')
  t.equal(img.flashFreq, '40m')
  t.equal(img.minRevFull, 0)
  t.equal(img.maxRevFull, 399)
  t.same(
    img.segments.map((s) => s.loadAddress),
    [0x3f400020, 0x3ffb0000, 0x40080000, 0x400d0020, 0x50000000],
  )
  t.equal(img.segments[0].fileOffset, 0x18)
  t.equal((img.segments[3].fileOffset + 8) % 0x10000, 0x20, 'IROM data sits at its load address modulo 64 KiB')
  for (const s of img.segments) t.equal(s.length % 4, 0, 'segment lengths are multiples of 4')
  t.ok(img.checksumValid)
  t.equal(img.checksum, img.calculatedChecksum)
  t.equal(img.checksumOffset % 16, 15)
  t.equal(img.hashAppended, true)
  t.equal(img.validationHash, createHash('sha256').update(image.subarray(0, image.length - 32)).digest('hex'))
  t.equal(img.hashValid, true)
  t.equal(img.secureBootSignature, null)
  t.equal(img.fillBytes, 0)
  t.equal(img.app.version, '1.0.0')
  t.equal(img.app.projectName, 'ota-gate-test')
  t.equal(img.app.idfVersion, 'v5.2.1')
  t.equal(img.app.secureVersion, 0)
  t.equal(img.app.compileDate, 'Nov 27 2026')
  t.equal(img.app.compileTime, '10:00:00')
  t.match(img.app.elfSha256, /^[0-9a-f]{64}$/)
})

t.test('the generator follows its options and never repeats a binary', async (t) => {
  const other = buildEspImage({
    chipId: CHIPS.esp32s3,
    version: 'prod-andrena-42',
    projectName: 'hive-cam',
    idfVersion: 'v5.3',
    secureVersion: 3,
  })
  const img = parseEspImage(other)
  t.equal(img.chip, 'esp32s3')
  t.equal(img.app.version, 'prod-andrena-42')
  t.equal(img.app.projectName, 'hive-cam')
  t.equal(img.app.idfVersion, 'v5.3')
  t.equal(img.app.secureVersion, 3)

  t.same(buildEspImage(), image, 'the same options give the same bytes')
  // equals(), not t.notSame: tap's notSame diffs the two hex dumps, over a second of CPU for these.
  t.notOk(buildEspImage({ version: '1.0.1' }).equals(image), 'another version gives other bytes')
  t.notOk(buildEspImage({ seed: 1 }).equals(image), 'another seed gives other bytes')
  t.not(parseEspImage(buildEspImage({ version: '1.0.1' })).app.elfSha256, parseEspImage(image).app.elfSha256)

  const small = buildEspImage({ size: 4096 })
  t.ok(small.length <= 8192, `a small image stays small (${small.length})`)
  t.equal(parseEspImage(small).segments.length, 5)

  const noHash = parseEspImage(buildEspImage({ hashAppended: false }))
  t.equal(noHash.hashAppended, false)
  t.equal(noHash.validationHash, null)
  t.equal(noHash.hashValid, null)

  t.throws(() => buildEspImage({ version: 'x'.repeat(32) }), RangeError, 'a version longer than 31 bytes is refused')
})

t.test('a 1.5 MB image parses', async (t) => {
  const big = buildEspImage({ size: 1_500_000, version: '2.0.0' })
  t.ok(Math.abs(big.length - 1_500_000) < 64, `close to the size asked for (${big.length})`)
  const img = parseEspImage(big)
  t.equal(img.size, big.length)
  t.ok(img.segments[3].length > 1_300_000, 'the IROM segment carries the bulk')
  t.equal(img.app.version, '2.0.0')
})

t.test('a flipped bit in segment data is a checksum mismatch', async (t) => {
  const img = parseEspImage(image)
  for (const segment of img.segments) {
    const damaged = copy(image)
    damaged[segment.fileOffset + 8 + (segment.length >> 1)] ^= 0x10
    refusal(t, damaged, 'checksum_mismatch', /checksum byte at offset 0x[0-9a-f]+ is 0x[0-9a-f]+, segments XOR to 0x[0-9a-f]+: the image is damaged/)
    const info = readEspImage(damaged)
    t.equal(info.checksumValid, false, 'readEspImage reports it instead of throwing')
    t.equal(info.calculatedChecksum, info.checksum ^ 0x10)
  }
  const noHash = buildEspImage({ hashAppended: false })
  const damaged = copy(noHash)
  damaged[0x2000] ^= 0x01
  refusal(t, damaged, 'checksum_mismatch', /segments XOR to/)
})

t.test('a flipped bit outside the checksummed data is a hash mismatch', async (t) => {
  const img = parseEspImage(image)
  const places: Array<[string, number]> = [
    ['entry point', 4],
    ['a segment load address', img.segments[2].fileOffset],
    ['the checksum padding', img.checksumOffset - 1],
  ]
  for (const [what, offset] of places) {
    const damaged = copy(image)
    damaged[offset] ^= 0x04
    t.test(what, async (t) => {
      refusal(t, damaged, 'hash_mismatch', /SHA-256 appended at 0x[0-9a-f]+ is [0-9a-f]{64}, but bytes 0\.\.0x[0-9a-f]+ hash to [0-9a-f]{64}: the image is damaged/)
      t.equal(readEspImage(damaged).hashValid, false)
    })
  }
})

t.test('a wrong appended hash is a hash mismatch', async (t) => {
  const damaged = copy(image)
  damaged[damaged.length - 5] ^= 0xff
  refusal(t, damaged, 'hash_mismatch', /SHA-256 appended/)
})

t.test('a truncated file is refused wherever it is cut', async (t) => {
  const img = parseEspImage(image)
  const cuts: Array<[number, RegExp]> = [
    [0, /0 bytes, fewer than the 24-byte image header/],
    [10, /10 bytes, fewer than the 24-byte image header/],
    [24, /inside the header of segment 1 of 5/],
    [0x100, /segment 1 of 5 .* but the file ends at 0x100: the file is truncated/],
    [img.segments[3].fileOffset + 4, /inside the header of segment 4 of 5/],
    [img.segments[3].fileOffset + 8 + (img.segments[3].length >> 1), /segment 4 of 5 .*the file is truncated/],
    [img.checksumOffset, /before the checksum byte at 0x[0-9a-f]+/],
    [img.checksumOffset + 1, /inside the appended SHA-256/],
    [image.length - 1, /inside the appended SHA-256/],
  ]
  for (const [length, message] of cuts) {
    t.test(`cut at ${length}`, async (t) => refusal(t, image.subarray(0, length), 'truncated', message, readEspImage))
  }
})

t.test('a wrong magic byte is refused', async (t) => {
  const damaged = copy(image)
  damaged[0] = 0xe8
  refusal(t, damaged, 'bad_magic', /first byte is 0xe8, not the ESP image magic 0xe9/)
  refusal(t, Buffer.from('{"version":"1.0.0"}'.padEnd(64, ' ')), 'bad_magic', /first byte is 0x7b/)
})

t.test('a segment count outside 1..16 is refused', async (t) => {
  const tooMany = copy(image)
  tooMany[1] = 17
  refusal(t, tooMany, 'too_many_segments', /declares 17 segments, more than the 16/)
  const none = copy(image)
  none[1] = 0
  refusal(t, none, 'no_segments', /declares 0 segments/)
})

t.test('a damaged hash_appended byte is refused', async (t) => {
  const damaged = copy(image)
  damaged[23] = 2
  refusal(t, damaged, 'bad_header', /hash_appended byte at 0x17 is 0x2/)
})

t.test('a segment length past the end of the file is refused', async (t) => {
  const img = parseEspImage(image)
  const damaged = copy(image)
  damaged.writeUInt32LE(0x7ffffff0, img.segments[1].fileOffset + 4)
  refusal(t, damaged, 'segment_out_of_bounds', /segment 2 of 5 \(header at 0x[0-9a-f]+, load address 0x3ffb0000\) declares 0x7ffffff0 bytes/)
  const justPast = copy(image)
  justPast.writeUInt32LE(img.segments[4].length + 0x1000, img.segments[4].fileOffset + 4)
  refusal(t, justPast, 'truncated', /segment 5 of 5 .*the file is truncated \(or that length is damaged\)/)
})

t.test('an image without an application descriptor is not an application', async (t) => {
  const bytes = buildEspImage({ appDescriptor: false })
  refusal(t, bytes, 'no_app_descriptor', /no esp_app_desc_t \(magic 0xabcd5432\) at offset 0x20.*not an application/)
  const info = readEspImage(bytes)
  t.equal(info.app, null, 'readEspImage reads it, with no descriptor')
  t.equal(info.checksumValid, true)
})

t.test('trailing bytes: 0xFF fill is accepted, anything else refused', async (t) => {
  const filled = Buffer.concat([image, Buffer.alloc(10_000, 0xff)])
  const img = parseEspImage(filled)
  t.equal(img.fillBytes, 10_000)
  t.equal(img.imageLength, image.length)
  t.equal(img.size, filled.length)

  const junk = Buffer.concat([image, Buffer.from('PK\x03\x04')])
  refusal(t, junk, 'trailing_data', /image ends at 0x[0-9a-f]+ .* byte 0x50 at 0x[0-9a-f]+: only 0xFF fill or a Secure Boot V2 signature/)
  const twoImages = Buffer.concat([image, buildEspImage({ version: '1.0.1' })])
  refusal(t, twoImages, 'trailing_data', /not a merged or concatenated file/)
})

t.test('a Secure Boot V2 signature sector is accepted and reported', async (t) => {
  for (const version of [0x02, 0x03]) {
    const signed = appendSecureBootV2Signature(image, { version })
    t.equal(signed.length % 4096, 0)
    const img = parseEspImage(signed)
    t.same(img.secureBootSignature, { version, offset: signed.length - 4096, blocks: 1, digestValid: true })
    t.equal(img.fillBytes, signed.length - 4096 - image.length)
    t.equal(img.app.version, '1.0.0')
  }
  t.equal(parseEspImage(appendSecureBootV2Signature(image, { blocks: 3 })).secureBootSignature?.blocks, 3)

  const signed = appendSecureBootV2Signature(image)
  const sector = signed.length - 4096

  const resigned = copy(signed)
  resigned[sector + 4] ^= 0x01
  resigned.writeUInt32LE(crc32(resigned.subarray(sector, sector + 1196)), sector + 1196)
  refusal(t, resigned, 'signature_digest_mismatch', /signature at 0x[0-9a-f]+ signs a different image digest/)
  t.equal(readEspImage(resigned).secureBootSignature?.digestValid, false)

  const threeBlocks = appendSecureBootV2Signature(image, { blocks: 3 })
  const third = sector + 2 * 1216
  threeBlocks[third + 10] ^= 0x01
  threeBlocks.writeUInt32LE(crc32(threeBlocks.subarray(third, third + 1196)), third + 1196)
  refusal(t, threeBlocks, 'signature_digest_mismatch', /signs a different image digest/)

  const badCrc = copy(signed)
  badCrc[sector + 100] ^= 0x01
  refusal(t, badCrc, 'bad_signature_block', /signature sector at 0x[0-9a-f]+ .* first block is not valid/)

  const badVersion = copy(signed)
  badVersion[sector + 1] = 0x01
  refusal(t, badVersion, 'bad_signature_block', /version 0x1, expected 0x2 or 0x3/)

  const misplaced = Buffer.concat([image, Buffer.alloc(4096, 0xff), signed.subarray(sector)])
  refusal(t, misplaced, 'trailing_data', /Secure Boot V2 signature sector at 0x[0-9a-f]+ may follow/)

  const afterSignature = Buffer.concat([signed, Buffer.alloc(16, 0xff)])
  refusal(t, afterSignature, 'trailing_data', /may follow/)
})
