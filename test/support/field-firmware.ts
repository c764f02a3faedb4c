// The /firmware.json reader of the ESP32-CAM firmware already in the field, rebuilt from its rules
// (../shared/reference/esp32-ota-facts.md, "The ESP32-CAM fleet in the field today"), as strict as
// the device: whatever this refuses, the fleet would silently skip.

export const FIELD_MAX_BODY = 1024
export const FIELD_MAX_APP_SIZE = 1_900_000

export interface FieldManifest {
  version: string
  sequence: number
  appMd5: string
  appSize: number
  /** only the literal `true` enables it */
  allowDowngrade: boolean
  /** every key in the body, in order */
  keys: string[]
}

export class FieldRefusal extends Error {
  override name = 'FieldRefusal'
}

type Scalar = { kind: 'string'; text: string } | { kind: 'number'; text: string } | { kind: 'literal'; text: 'true' | 'false' | 'null' }

/** Reads a flat JSON object of scalars; strings may not contain a backslash (the firmware has no unescaping). */
function parseFlatObject(text: string): Map<string, Scalar> {
  let i = 0
  const fail = (what: string): never => {
    throw new FieldRefusal(`${what} at offset ${i}`)
  }
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++
  }
  const string = (): string => {
    if (text[i] !== '"') fail('expected a string')
    const end = text.indexOf('"', i + 1)
    if (end < 0) fail('unterminated string')
    const value = text.slice(i + 1, end)
    if (value.includes('\\')) fail('a backslash escape in a string')
    if (/[\u0000-\u001f]/.test(value)) fail('a control character in a string')
    i = end + 1
    return value
  }
  const scalar = (): Scalar => {
    if (text[i] === '"') return { kind: 'string', text: string() }
    const m = /^(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)/.exec(text.slice(i))
    if (!m) return fail('expected a string, number, true, false or null (the object must be flat)')
    i += m[1].length
    return /^[tfn]/.test(m[1]) ? { kind: 'literal', text: m[1] as 'true' | 'false' | 'null' } : { kind: 'number', text: m[1] }
  }
  const fields = new Map<string, Scalar>()
  ws()
  if (text[i] !== '{') fail('expected {')
  i++
  ws()
  if (text[i] === '}') {
    i++
  } else {
    for (;;) {
      ws()
      const key = string()
      if (fields.has(key)) fail(`duplicate key ${key}`)
      ws()
      if (text[i] !== ':') fail('expected :')
      i++
      ws()
      fields.set(key, scalar())
      ws()
      if (text[i] === ',') {
        i++
        continue
      }
      if (text[i] === '}') {
        i++
        break
      }
      fail('expected , or }')
    }
  }
  ws()
  if (i !== text.length) fail('trailing bytes after the object')
  return fields
}

function unsigned(field: Scalar | undefined, name: string, min: number, max: number): number {
  if (!field) throw new FieldRefusal(`${name} is missing`)
  if (field.kind !== 'number' || !/^[0-9]+$/.test(field.text)) throw new FieldRefusal(`${name} is not an unsigned integer: ${field.text}`)
  const n = Number(field.text)
  if (n < min || n > max) throw new FieldRefusal(`${name} ${n} is outside ${min}…${max}`)
  return n
}

/** Parses a /firmware.json body as the field firmware does; throws FieldRefusal where it would give up. */
export function parseFieldManifest(body: Buffer | string): FieldManifest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  if (bytes.length > FIELD_MAX_BODY) throw new FieldRefusal(`the body is ${bytes.length} bytes, over ${FIELD_MAX_BODY}`)
  const fields = parseFlatObject(bytes.toString('utf8'))
  const version = fields.get('version')
  if (!version || version.kind !== 'string') throw new FieldRefusal('version is missing or not a string')
  if (version.text.length === 0 || version.text.length > 31) throw new FieldRefusal(`version "${version.text}" is not 1…31 characters`)
  const md5 = fields.get('app_md5')
  if (!md5 || md5.kind !== 'string' || !/^[0-9a-f]{32}$/.test(md5.text)) throw new FieldRefusal('app_md5 is not exactly 32 lowercase hex')
  const allow = fields.get('allow_downgrade')
  return {
    version: version.text,
    sequence: unsigned(fields.get('sequence'), 'sequence', 0, 0xffffffff),
    appMd5: md5.text,
    appSize: unsigned(fields.get('app_size'), 'app_size', 1, FIELD_MAX_APP_SIZE),
    allowDowngrade: allow?.kind === 'literal' && allow.text === 'true',
    keys: [...fields.keys()],
  }
}

/** The firmware's rule for taking an update, given what it runs. */
export function fieldWouldFlash(manifest: FieldManifest, own: { version: string; sequence: number }): boolean {
  return (
    manifest.version !== own.version && own.sequence !== 0 && (manifest.sequence > own.sequence || manifest.allowDowngrade)
  )
}

/** The response-level rules: a Content-Length the body matches, never chunked, at most 1024 bytes. */
export function checkFieldResponse(headers: Record<string, string | string[] | undefined>, body: Buffer): void {
  if (headers['transfer-encoding'] !== undefined) throw new FieldRefusal(`chunked answer (Transfer-Encoding: ${headers['transfer-encoding']})`)
  const length = headers['content-length']
  if (typeof length !== 'string' || !/^[0-9]+$/.test(length)) throw new FieldRefusal('no Content-Length')
  if (Number(length) !== body.length) throw new FieldRefusal(`Content-Length ${length} but ${body.length} bytes came`)
  if (body.length > FIELD_MAX_BODY) throw new FieldRefusal(`Content-Length ${length} is over ${FIELD_MAX_BODY}`)
}
