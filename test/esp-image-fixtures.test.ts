import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { parseEspImage, readEspImage } from '../src/esp/esp-image'
import { assertEspImageRefused as refusal } from './support/esp-image-refusal'

// Real Espressif images, compared with what `esptool.py image_info --version 2` printed for them.

const projectRoot = path.resolve(__dirname, '..')
const fixtures = path.join(path.resolve(projectRoot, '../shared'), 'fixtures', 'esp-images')

interface EsptoolReading {
  fileSize: number
  entryPoint: number
  segmentCount: number
  flashSize: string
  flashFreq: string
  flashMode: string
  chipId: number
  minRevFull: number
  maxRevFull: number
  segments: Array<{ length: number; loadAddress: number; fileOffset: number }>
  checksum: number
  checksumValid: boolean
  validationHash: string
  validationHashValid: boolean
  app: null | {
    projectName: string
    version: string
    compileTime: string
    elfSha256: string
    idfVersion: string
    secureVersion: number
  }
}

function field(text: string, label: string): string {
  const match = new RegExp(`^${label}: (.*)$`, 'm').exec(text)
  if (match === null) throw new Error(`image_info has no "${label}:" line`)
  // esptool prints the descriptor's fixed-size fields whole, NUL padding included.
  return match[1].replace(/\0+$/, '')
}

function revision(value: string): number {
  const match = /^v(\d+)\.(\d+)/.exec(value)
  if (match === null) throw new Error(`unreadable chip revision "${value}"`)
  return Number(match[1]) * 100 + Number(match[2])
}

function readEsptoolReading(text: string): EsptoolReading {
  const checksum = /^(0x[0-9a-f]{2}) \((valid|invalid.*)\)$/.exec(field(text, 'Checksum'))
  const hash = /^([0-9a-f]{64}) \((valid|invalid)\)$/.exec(field(text, 'Validation hash'))
  if (checksum === null || hash === null) throw new Error('unreadable image footer')
  const appStart = text.indexOf('Application information\n')
  const appText = appStart === -1 ? null : text.slice(appStart)
  return {
    fileSize: Number(/^(\d+) \(bytes\)$/.exec(field(text, 'File size'))?.[1]),
    entryPoint: Number(field(text, 'Entry point')),
    segmentCount: Number(field(text, 'Segments')),
    flashSize: field(text, 'Flash size'),
    flashFreq: field(text, 'Flash freq'),
    flashMode: field(text, 'Flash mode'),
    chipId: Number(/^(\d+)/.exec(field(text, 'Chip ID'))?.[1]),
    minRevFull: revision(field(text, 'Minimal chip revision')),
    maxRevFull: revision(field(text, 'Maximal chip revision')),
    segments: [...text.matchAll(/^ +\d+ +0x([0-9a-f]+) +0x([0-9a-f]+) +0x([0-9a-f]+) /gm)].map((m) => ({
      length: parseInt(m[1], 16),
      loadAddress: parseInt(m[2], 16),
      fileOffset: parseInt(m[3], 16),
    })),
    checksum: Number(checksum[1]),
    checksumValid: checksum[2] === 'valid',
    validationHash: hash[1],
    validationHashValid: hash[2] === 'valid',
    app:
      appText === null
        ? null
        : {
            projectName: field(appText, 'Project name'),
            version: field(appText, 'App version'),
            compileTime: field(appText, 'Compile time').replace(/\0/g, ''),
            elfSha256: field(appText, 'ELF file SHA256'),
            idfVersion: field(appText, 'ESP-IDF'),
            secureVersion: Number(field(appText, 'Secure version')),
          },
  }
}

/** The README's table: file name to sha256, so a changed fixture is noticed rather than silently compared. */
function readmeDigests(readme: string): Map<string, string> {
  const rows = [...readme.matchAll(/^\| ([\w.-]+\.bin) \| ([0-9a-f]{64}) \|/gm)]
  return new Map(rows.map((m) => [m[1], m[2]]))
}

// What each image is, per the fixtures README.
const expected: Record<string, { application: boolean; chipId: number }> = {
  'hello_world_esp32.bin': { application: true, chipId: 0 },
  'esp_idf_blink_esp32s2.bin': { application: true, chipId: 2 },
  'bootloader_esp32_v5_2.bin': { application: false, chipId: 0 },
  'helloworld-esp32.bin': { application: false, chipId: 0 },
}

const missing = fs.existsSync(fixtures) ? false : `${fixtures} does not exist`

t.test('real ESP images agree with esptool image_info', { skip: missing }, async (t) => {
  const digests = readmeDigests(fs.readFileSync(path.join(fixtures, 'README.md'), 'utf8'))
  const images = fs.readdirSync(fixtures).filter((name) => name.endsWith('.bin'))
  t.same(images.sort(), Object.keys(expected).sort(), 'the fixtures are the four images the README describes')

  for (const name of images) {
    t.test(name, async (t) => {
      const bytes = fs.readFileSync(path.join(fixtures, name))
      const esptool = readEsptoolReading(
        fs.readFileSync(path.join(fixtures, name.replace(/\.bin$/, '.image_info.txt')), 'latin1'),
      )
      t.equal(createHash('sha256').update(bytes).digest('hex'), digests.get(name), 'sha256 as the README lists it')

      const info = readEspImage(bytes)
      t.equal(info.size, esptool.fileSize)
      t.equal(info.imageLength, esptool.fileSize, 'nothing follows the image')
      t.equal(info.entryPoint, esptool.entryPoint)
      t.equal(info.segments.length, esptool.segmentCount)
      t.same(info.segments, esptool.segments, 'each segment: length, load address, file offset')
      t.equal(info.chipId, esptool.chipId)
      t.equal(info.chipId, expected[name].chipId)
      t.equal(info.flashSize, esptool.flashSize)
      t.equal(info.flashFreq, esptool.flashFreq)
      t.equal(info.flashMode, esptool.flashMode)
      t.equal(info.minRevFull, esptool.minRevFull)
      t.equal(info.maxRevFull, esptool.maxRevFull)
      t.equal(info.checksum, esptool.checksum)
      t.equal(info.checksumValid, esptool.checksumValid)
      t.equal(info.hashAppended, true)
      t.equal(info.calculatedHash, esptool.validationHash)
      t.equal(info.hashValid, esptool.validationHashValid)
      t.equal(info.validationHash, esptool.validationHash)
      t.equal(info.secureBootSignature, null)

      if (expected[name].application) {
        const img = parseEspImage(bytes)
        const app = esptool.app
        t.not(app, null, 'esptool found an application descriptor too')
        if (app !== null) {
          t.equal(img.app.projectName, app.projectName)
          t.equal(img.app.version, app.version)
          t.equal(`${img.app.compileDate} ${img.app.compileTime}`, app.compileTime)
          t.equal(img.app.elfSha256, app.elfSha256)
          t.equal(img.app.idfVersion, app.idfVersion)
          t.equal(img.app.secureVersion, app.secureVersion)
        }
      } else {
        t.equal(esptool.app, null, 'esptool found no application descriptor either')
        t.equal(info.app, null)
        refusal(t, bytes, 'no_app_descriptor', /no esp_app_desc_t .* not an application/)
      }

      t.test('damaged copies are refused', async (t) => {
        const largest = info.segments.reduce((a, b) => (b.length > a.length ? b : a))
        const flipped = Buffer.from(bytes)
        flipped[largest.fileOffset + 8 + (largest.length >> 1)] ^= 0x01
        refusal(t, flipped, 'checksum_mismatch', /checksum byte at offset 0x[0-9a-f]+ is 0x[0-9a-f]+, segments XOR to/)
        t.equal(readEspImage(flipped).checksumValid, false)

        const entry = Buffer.from(bytes)
        entry[4] ^= 0x01
        refusal(t, entry, 'hash_mismatch', /SHA-256 appended at/)

        for (const length of [bytes.length - 1, bytes.length >> 1, 20]) {
          refusal(t, bytes.subarray(0, length), 'truncated', /truncated|fewer than the 24-byte image header/)
        }

        const magic = Buffer.from(bytes)
        magic[0] = 0xe8
        refusal(t, magic, 'bad_magic', /not the ESP image magic 0xe9/)
      })
    })
  }
})
