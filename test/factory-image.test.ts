import t, { type Test } from 'tap'
import { checkFactoryImage, FactoryImageError, type FactoryImageReason, type FactoryImageTarget } from '../src/esp/factory-image'
import { parsePartitionTable, PartitionTableError } from '../src/esp/partition-table'
import { buildEspImage } from './support/esp-image-builder'
import {
  bootApp0,
  factoryImage,
  generatedBootloader,
  MIN_SPIFFS,
  partitionTableBinary,
  realEsp32Bootloader,
  type PartitionRow,
} from './support/factory-image-builder'

// The checks a factory image passes before the server accepts it, on images merged the way
// esptool merge_bin lays them out, and on damaged copies: one for each refusal.

const ESP32CAM_SLOT = 1_966_080
const app = buildEspImage({ version: 'mason', size: 300 * 1024, seed: 12 })
const esp32cam: FactoryImageTarget = { board: 'esp32cam', chip: 'esp32', slotSize: ESP32CAM_SLOT, app }

function refused(t: Test, image: Buffer, reason: FactoryImageReason, message: RegExp, target = esp32cam): void {
  let error: unknown
  try {
    checkFactoryImage(image, target)
  } catch (e) {
    error = e
  }
  t.type(error, FactoryImageError, `refused with a FactoryImageError (${reason})`)
  if (error instanceof FactoryImageError) {
    t.equal(error.reason, reason, `refused as ${reason}`)
    t.match(error.message, message)
  }
}

t.test('a merged image of the ESP32-CAM build is accepted: bootloader at 0x1000, min_spiffs, boot_app0, the app in ota_0', async (t) => {
  const image = factoryImage({ app })
  t.equal(image.length, 0x10000 + app.length, 'merge_bin writes from 0 to the end of the app')
  t.same(image.subarray(0, 0x1000), Buffer.alloc(0x1000, 0xff), '0xFF before the bootloader')
  const facts = checkFactoryImage(image, esp32cam)
  t.same(
    { bootloader: facts.bootloaderOffset, flash: facts.flashSize, slots: facts.otaSlots, app: facts.appPartition.label, at: facts.appPartition.offset, by: facts.bootChoice },
    { bootloader: 0x1000, flash: 4 * 1024 * 1024, slots: 2, app: 'app0', at: 0x10000, by: 'otadata' }
  )
  t.same(
    facts.partitions.map((p) => [p.label, p.offset, p.size]),
    MIN_SPIFFS.map(([name, , , offset, size]) => [name, offset, size]),
    'the partition table as the CSV gave it'
  )
})

const real = realEsp32Bootloader()
t.test('with the real ESP-IDF v5.2 bootloader of ../shared', { skip: real ? false : '../shared/fixtures/esp-images is absent here' }, async (t) => {
  if (!real) return
  t.ok(checkFactoryImage(factoryImage({ app, bootloader: real }), esp32cam), 'accepted once merged with --flash_size 4MB')
  // Merged without --flash_size, its header still says 2MB (as esptool image_info printed it): min_spiffs reaches 4 MB.
  refused(t, factoryImage({ app, bootloader: real, flashSize: '2MB' }), 'too_large_for_flash', /partitions reach 0x400000, past the 2 MB/)
})

t.test('the first boot partition: otadata, else factory, else ota_0', async (t) => {
  const erased = Buffer.alloc(0x2000, 0xff)
  t.equal(checkFactoryImage(factoryImage({ app, otadata: erased }), esp32cam).bootChoice, 'ota_0', 'erased otadata (idf.py flash) boots ota_0')
  const withFactory: PartitionRow[] = [
    ['nvs', 'data', 'nvs', 0x9000, 0x5000],
    ['otadata', 'data', 'ota', 0xe000, 0x2000],
    ['factory', 'app', 'factory', 0x10000, 0x100000],
    ['ota_0', 'app', 'ota_0', 0x110000, 0x1e0000],
    ['ota_1', 'app', 'ota_1', 0x2f0000, 0x1e0000],
  ]
  // Three apps need more than 4 MB: an 8 MB module.
  const table = partitionTableBinary(withFactory)
  const flashSize = '8MB'
  const facts = checkFactoryImage(factoryImage({ app, table, otadata: erased, flashSize }), esp32cam)
  t.same([facts.bootChoice, facts.appPartition.label], ['factory', 'factory'], 'erased otadata with a factory partition boots factory')
  // boot_app0 selects ota_0 (at 0x110000 here), so the app at 0x10000 is not what boots.
  refused(t, factoryImage({ app, table, flashSize }), 'app_mismatch', /partition ota_0 at 0x110000/)
  t.equal(checkFactoryImage(factoryImage({ app, table, flashSize, appOffset: 0x110000 }), esp32cam).appPartition.label, 'ota_0')
})

t.test('each chip has its bootloader offset', async (t) => {
  for (const [chip, offset] of [['esp32s3', 0x0], ['esp32c3', 0x0], ['esp32s2', 0x1000], ['esp32p4', 0x2000], ['esp32c5', 0x2000]] as const) {
    const chipApp = buildEspImage({ version: 'mason', size: 100 * 1024, seed: 3, chipId: { esp32s3: 9, esp32c3: 5, esp32s2: 2, esp32p4: 18, esp32c5: 23 }[chip] })
    const facts = checkFactoryImage(factoryImage({ chip, app: chipApp }), { board: 'b', chip, slotSize: ESP32CAM_SLOT, app: chipApp })
    t.equal(facts.bootloaderOffset, offset, `${chip}: bootloader at 0x${offset.toString(16)}`)
  }
  // An ESP32 image merged with its bootloader at 0x0 (as for an S3) leaves 0x1000 empty.
  refused(t, factoryImage({ app, chip: 'esp32s3', bootloader: generatedBootloader('esp32') }), 'bootloader_invalid', /at 0x1000 .*bad_magic/)
})

t.test('refusals, one damaged copy each', async (t) => {
  refused(t, factoryImage({ app: buildEspImage({ version: 'mason', size: 300 * 1024, seed: 13 }) }), 'app_mismatch', /differ from the release's application from byte 0x/)
  refused(t, factoryImage({ app: app.subarray(0, app.length - 100) }), 'app_mismatch', /bytes short of the release's application/)
  refused(
    t,
    factoryImage({ app, table: partitionTableBinary([['nvs', 'data', 'nvs', 0x9000, 0x5000], ['otadata', 'data', 'ota', 0xe000, 0x2000], ['app0', 'app', 'ota_0', 0x10000, 0x3f0000]]) }),
    'too_few_ota_slots',
    /1 OTA app slot\(s\) \(app0\)/
  )
  // arduino-esp32's default.csv: two slots of 0x140000, smaller than the esp32cam's 0x1E0000.
  const defaultCsv: PartitionRow[] = [
    ['nvs', 'data', 'nvs', 0x9000, 0x5000],
    ['otadata', 'data', 'ota', 0xe000, 0x2000],
    ['app0', 'app', 'ota_0', 0x10000, 0x140000],
    ['app1', 'app', 'ota_1', 0x150000, 0x140000],
    ['spiffs', 'data', 'spiffs', 0x290000, 0x160000],
    ['coredump', 'data', 'coredump', 0x3f0000, 0x10000],
  ]
  refused(t, factoryImage({ app, table: partitionTableBinary(defaultCsv) }), 'ota_slot_too_small', /app0 \(1310720 bytes\), app1 \(1310720 bytes\) are smaller than the 1966080-byte slot/)
  refused(
    t,
    factoryImage({ app, table: partitionTableBinary(MIN_SPIFFS.filter(([name]) => name !== 'otadata')) }),
    'no_otadata',
    /no otadata partition/
  )

  const brokenMd5 = partitionTableBinary(MIN_SPIFFS)
  brokenMd5.writeUInt32LE(0x30000, 4 * 32 + 8) // spiffs resized after the MD5 was written
  refused(t, factoryImage({ app, table: brokenMd5 }), 'partition_table_md5_mismatch', /MD5 entry .* but the entries before it hash to/)

  const garbage = Buffer.alloc(0xc00, 0x00)
  refused(t, factoryImage({ app, table: garbage }), 'partition_table_invalid', /starts with 0000, neither a partition/)

  refused(t, factoryImage({ app, bootloader: generatedBootloader('esp32s3') }), 'bootloader_chip_mismatch', /built for esp32s3 \(chip id 9\), but board esp32cam is ESP32/)
  const damaged = Buffer.from(real ?? generatedBootloader())
  damaged[0x100] ^= 0x01
  refused(t, factoryImage({ app, bootloader: damaged }), 'bootloader_invalid', /bad checksum|does not match/)

  refused(t, factoryImage({ app, flashSize: '2MB' }), 'too_large_for_flash', /past the 2 MB of flash/)
  const huge = factoryImage({ app, flashSize: '4MB' })
  refused(t, Buffer.concat([huge, Buffer.alloc(4 * 1024 * 1024 - huge.length + 1, 0xff)]), 'too_large_for_flash', /the image is 4194305 bytes/)
})

t.test('partition tables as gen_esp32part.py writes them', async (t) => {
  const withMd5 = parsePartitionTable(partitionTableBinary(MIN_SPIFFS))
  t.match(withMd5.md5, /^[0-9a-f]{32}$/)
  const without = parsePartitionTable(partitionTableBinary(MIN_SPIFFS, { md5: false }))
  t.equal(without.md5, null, '--disable-md5sum')
  t.same(without.partitions, withMd5.partitions)
  t.equal(checkFactoryImage(factoryImage({ app, table: partitionTableBinary(MIN_SPIFFS, { md5: false }) }), esp32cam).otaSlots, 2)
  const overlapping = partitionTableBinary([...MIN_SPIFFS, ['extra', 'data', 'nvs', 0x3f8000, 0x1000]])
  t.throws(() => parsePartitionTable(overlapping), PartitionTableError)
  t.equal(bootApp0().readUInt32LE(28), 0x4743989a, 'boot_app0.bin: ota_seq 1 with its CRC as arduino-esp32 ships it')
})
