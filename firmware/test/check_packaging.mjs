// The three package manifests (library.json for PlatformIO, library.properties
// for the Arduino IDE, idf_component.yml for the ESP-IDF component manager)
// against each other, against the library format rules each tool applies, and
// against the source tree, so that none of them can drift.
//
// Prints `ok - ...` / `not ok - ...` per check and, last, `N passed, M failed`.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const read = (file) => fs.readFileSync(path.join(root, file), 'utf8')
const exists = (file) => fs.existsSync(path.join(root, file))
const list = (dir, ext) =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => `${dir}/${e.name}`)
    .sort()
const walk = (dir) =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`])

// library.properties: `key=value` lines, `#` comments (Arduino's own reader).
function parseProperties(text) {
  const fields = {}
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`library.properties line ${i + 1}: not key=value`)
    const key = line.slice(0, eq).trim()
    if (key in fields) throw new Error(`library.properties: ${key} given twice`)
    fields[key] = line.slice(eq + 1).trim()
  }
  return fields
}

// The part of YAML idf_component.yml is written in: maps and lists by
// indentation, plain or double-quoted scalars, whole-line comments. Anything
// else is refused rather than guessed at, so a check can never pass on a
// misread manifest.
function parseYamlSubset(text) {
  const lines = text.split('\n')
    .map((raw, i) => ({ n: i + 1, indent: raw.length - raw.trimStart().length, text: raw.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'))
  let at = 0
  const scalar = (s, n) => {
    if (s.startsWith('"')) return JSON.parse(s)
    if (/^[A-Za-z0-9_.\-/*<>=~^ ]+$/.test(s) && !s.includes(' #')) return s
    throw new Error(`idf_component.yml line ${n}: unsupported scalar ${s}`)
  }
  function block(indent) {
    const isList = lines[at].text.startsWith('- ')
    const out = isList ? [] : {}
    while (at < lines.length && lines[at].indent === indent) {
      const { n, text: t } = lines[at]
      if (isList !== t.startsWith('- ')) throw new Error(`idf_component.yml line ${n}: list and map mixed`)
      at++
      if (isList) { out.push(scalar(t.slice(2).trim(), n)); continue }
      const m = /^([A-Za-z_][A-Za-z0-9_-]*):(?:\s+(.*))?$/.exec(t)
      if (m === null) throw new Error(`idf_component.yml line ${n}: expected key: value`)
      if (m[1] in out) throw new Error(`idf_component.yml line ${n}: ${m[1]} given twice`)
      if (m[2] !== undefined) out[m[1]] = scalar(m[2], n)
      else if (at < lines.length && lines[at].indent > indent) out[m[1]] = block(lines[at].indent)
      else throw new Error(`idf_component.yml line ${n}: ${m[1]} has no value`)
    }
    if (at < lines.length && lines[at].indent > indent) throw new Error(`idf_component.yml line ${lines[at].n}: bad indentation`)
    return out
  }
  const doc = block(0)
  if (at !== lines.length) throw new Error(`idf_component.yml line ${lines[at].n}: bad indentation`)
  return doc
}

let passed = 0
let failed = 0
function check(name, fn) {
  try {
    const problem = fn()
    if (problem) throw new Error(problem)
    passed++
    console.log(`ok - ${name}`)
  } catch (err) {
    failed++
    console.log(`not ok - ${name}: ${err.message}`)
  }
}
const same = (what, values) => {
  const distinct = [...new Set(Object.values(values).map((v) => JSON.stringify(v)))]
  return distinct.length === 1 ? null : `${what} differs: ${JSON.stringify(values)}`
}

let pio, ard, idf
check('library.json, library.properties and idf_component.yml parse', () => {
  pio = JSON.parse(read('library.json'))
  ard = parseProperties(read('library.properties'))
  idf = parseYamlSubset(read('idf_component.yml'))
})
if (!pio || !ard || !idf) {
  console.log(`${passed} passed, ${failed + 1} failed`)
  process.exit(1)
}

const sourceVersion = /#define OTA_GATE_CLIENT_VERSION "([^"]*)"/.exec(read('src/ota_gate/version.h'))?.[1]

check('one version everywhere: the three manifests and OTA_GATE_CLIENT_VERSION', () =>
  same('version', { 'library.json': pio.version, 'library.properties': ard.version, 'idf_component.yml': idf.version, 'src/ota_gate/version.h': sourceVersion }))

check('the version is MAJOR.MINOR.PATCH (semver, which all three tools read)', () =>
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(ard.version) ? null : `not semver: ${ard.version}`)

check('one name: library.json and library.properties', () =>
  same('name', { 'library.json': pio.name, 'library.properties': ard.name }))

check('one description: library.json description, library.properties sentence, idf_component.yml description', () =>
  same('description', { 'library.json': pio.description, 'library.properties': ard.sentence, 'idf_component.yml': idf.description }))

check('one url: library.json homepage, library.properties url, idf_component.yml url', () =>
  same('url', { 'library.json': pio.homepage, 'library.properties': ard.url, 'idf_component.yml': idf.url }) ??
  (/^https:\/\/\S+$/.test(ard.url) ? null : `not an https URL: ${ard.url}`))

// library.properties has no license field in the 1.5 format.
check('one license: library.json and idf_component.yml', () =>
  same('license', { 'library.json': pio.license, 'idf_component.yml': idf.license }))

check('one target: ESP32 (architectures=esp32, platform espressif32, IDF target esp32)', () =>
  same('target', { 'library.properties': ard.architectures.split(',').map((s) => s.trim()), 'library.json platforms': pio.platforms.map((p) => p.replace(/^espressif32$/, 'esp32')), 'idf_component.yml targets': idf.targets }) ??
  (ard.architectures === 'esp32' ? null : `architectures=${ard.architectures}`))

// Everything the client needs (mbedTLS, HTTP client, OTA, NVS) comes with
// arduino-esp32 or ESP-IDF; a manifest that grew a dependency alone would be drift.
check('no dependency beyond the SDK in any manifest', () => {
  if ('depends' in ard) return `library.properties depends=${ard.depends}`
  if ('dependencies' in pio) return `library.json dependencies ${JSON.stringify(pio.dependencies)}`
  const deps = Object.keys(idf.dependencies ?? {})
  return deps.length === 1 && deps[0] === 'idf' ? null : `idf_component.yml dependencies ${deps.join(', ')}`
})

check('idf_component.yml asks for ESP-IDF 4.4 or later (the adapters use esp_ota_abort and crt_bundle_attach)', () =>
  idf.dependencies?.idf === '>=4.4' ? null : `idf: ${idf.dependencies?.idf}`)

// https://arduino.github.io/arduino-cli/latest/library-specification/#libraryproperties-file-format
const required = ['name', 'version', 'author', 'maintainer', 'sentence', 'paragraph', 'category', 'url', 'architectures']
const known = new Set([...required, 'depends', 'dot_a_linkage', 'includes', 'precompiled', 'ldflags'])
const categories = ['Display', 'Communication', 'Signal Input/Output', 'Sensors', 'Device Control', 'Timing', 'Data Storage', 'Data Processing', 'Other']

check('library.properties has every required field and no unknown one', () => {
  const missing = required.filter((k) => !ard[k])
  const unknown = Object.keys(ard).filter((k) => !known.has(k))
  return missing.length || unknown.length ? `missing [${missing}] unknown [${unknown}]` : null
})

check('library.properties name: letters, digits, space, _ . -; starts with a letter or digit; at most 63', () =>
  /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/.test(ard.name) && !ard.name.endsWith(' ') ? null : `bad name: ${ard.name}`)

check('library.properties category is one of Arduino\'s', () =>
  categories.includes(ard.category) ? null : `category=${ard.category}`)

// The IDE picks a library by the headers at the top of src/ (arduino-cli's
// library resolver reads that folder only), so the one a sketch includes must be there.
check('library.properties includes= names headers at the top of src/', () => {
  const names = ard.includes.split(',').map((s) => s.trim())
  const bad = names.filter((h) => h.includes('/') || !exists(`src/${h}`))
  return names.length && !bad.length ? null : `not at the top of src/: ${bad}`
})

check('library.json headers exist under its includeDir, and the first is library.properties includes=', () => {
  if (pio.build?.includeDir !== 'src' || pio.build?.srcDir !== 'src') return 'build.srcDir and build.includeDir must be src (the Arduino layout)'
  const missing = pio.headers.filter((h) => !exists(`src/${h}`))
  if (missing.length) return `missing: ${missing}`
  return pio.headers[0] === ard.includes.split(',')[0].trim() ? null : `${pio.headers[0]} vs ${ard.includes}`
})

// Anything else at the top of src/ sits on every user's include path under a
// bare name that another library could also have.
check('src/ holds no header but ota_gate.h outside the ota_gate/ prefix', () => {
  const bare = list('src', '.h').filter((f) => f !== 'src/ota_gate.h')
  return bare.length ? `unprefixed: ${bare}` : null
})

// The Arduino IDE compiles all of src/ recursively: only the core and the
// Arduino adapters may have sources there.
check('the only sources under src/ are the core and src/arduino/', () => {
  const stray = walk('src').filter((f) => /\.(c|cpp|cc|S)$/.test(f) && !/^src\/[^/]+\.cpp$/.test(f) && !/^src\/arduino\/[^/]+\.cpp$/.test(f))
  return stray.length ? `would be compiled by the Arduino IDE: ${stray}` : null
})

check('CMakeLists.txt builds exactly the core and adapters/esp_idf/, with src/ as its include root', () => {
  const cmake = read('CMakeLists.txt')
  const srcs = /SRCS\s+([\s\S]*?)\n\s*INCLUDE_DIRS\s+(\S+)\s*\n/.exec(cmake)
  if (srcs === null) return 'no SRCS ... INCLUDE_DIRS in idf_component_register'
  const listed = srcs[1].split(/\s+/).filter(Boolean).sort()
  const expected = [...list('src', '.cpp'), ...list('adapters/esp_idf', '.cpp')].sort()
  return same('SRCS', { 'CMakeLists.txt': listed, tree: expected }) ?? (srcs[2] === 'src' ? null : `INCLUDE_DIRS ${srcs[2]}`)
})

check('idf_component.yml excludes none of the files CMakeLists.txt builds', () => {
  const globToRe = (g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\/\*/g, '.*').replace(/\*/g, '[^/]*')}$`)
  const excludes = (idf.files?.exclude ?? []).map(globToRe)
  const needed = [...list('src', '.cpp'), ...list('adapters/esp_idf', '.cpp'), ...walk('src/ota_gate'), 'src/ota_gate.h', 'CMakeLists.txt', 'idf_component.yml']
  const cut = needed.filter((f) => excludes.some((re) => re.test(f)))
  return cut.length ? `excluded: ${cut}` : null
})

// Each umbrella header must name every header of its part, so a header added
// later is reachable through the include the README documents.
function umbrellaCovers(umbrella, dir) {
  const text = read(umbrella)
  const headers = list(dir, '.h').filter((h) => !/\/(client|arduino|esp_idf)\.h$/.test(h) || dir !== 'src/ota_gate')
  const missing = headers.filter((h) => !text.includes(`#include "${h.slice('src/'.length)}"`))
  return missing.length ? `${umbrella} does not include ${missing}` : null
}
check('ota_gate/client.h includes every core header', () => umbrellaCovers('src/ota_gate/client.h', 'src/ota_gate'))
check('ota_gate/arduino.h includes every Arduino adapter header', () => umbrellaCovers('src/ota_gate/arduino.h', 'src/ota_gate/arduino'))
check('ota_gate/esp_idf.h includes every ESP-IDF adapter header', () => umbrellaCovers('src/ota_gate/esp_idf.h', 'src/ota_gate/esp_idf'))

check('every ota_gate header included anywhere exists under src/', () => {
  const files = ['src', 'adapters', 'examples', 'test', 'tools'].flatMap(walk).filter((f) => /\.(h|cpp|ino)$/.test(f))
  const missing = []
  for (const f of files) {
    for (const m of read(f).matchAll(/#include\s+["<](ota_gate(?:\/[^">]+|\.h))[">]/g)) {
      if (!exists(`src/${m[1]}`)) missing.push(`${f}: ${m[1]}`)
    }
  }
  return missing.length ? missing.join('; ') : null
})

// The IDE opens examples/<name>/<name>.ino only.
check('each example is examples/<name>/<name>.ino', () => {
  const dirs = fs.readdirSync(path.join(root, 'examples'))
  const bad = dirs.filter((d) => !exists(`examples/${d}/${d}.ino`))
  return dirs.length && !bad.length ? null : `no matching sketch in ${bad}`
})

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
