import crypto from 'node:crypto'
import { Sequence, VERSION_FORM } from '../schemas/common'
import { CliRefusal, UsageError } from './io'

// The two static files the field fleet is served before the cut-over, read and checked against
// each other before anything is sent or written.

/** firmware.json's fields, in the order the field firmware reads them. */
export interface FieldManifestFields {
  version: string
  sequence: number
  app_md5: string
  app_size: number
  allow_downgrade: boolean
}


/** Reads firmware.json as the field firmware does: the five fields, each of its form (exit 2 otherwise). */
export function readFieldManifest(text: string, flagName: string): FieldManifestFields {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`--${flagName} is not JSON (${(err as Error).message}): give the firmware.json the fleet polls today`)
  }
  const o = (parsed ?? {}) as Record<string, unknown>
  const problems = [
    typeof o.version === 'string' && VERSION_FORM.test(o.version) ? null : 'version (a label of at most 31 letters, digits, ".", "_", "+" or "-")',
    Number.isInteger(o.sequence) && (o.sequence as number) >= (Sequence.minimum as number) && (o.sequence as number) <= (Sequence.maximum as number)
      ? null
      : 'sequence (a whole number from 1 to 4294967295)',
    typeof o.app_md5 === 'string' && /^[0-9a-f]{32}$/.test(o.app_md5) ? null : 'app_md5 (32 lowercase hex)',
    Number.isInteger(o.app_size) && (o.app_size as number) > 0 ? null : 'app_size (bytes, above 0)',
    o.allow_downgrade === undefined || typeof o.allow_downgrade === 'boolean' ? null : 'allow_downgrade (true or false)',
  ].filter((p): p is string => p !== null)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || problems.length > 0) {
    throw new UsageError(`--${flagName} does not read as the field fleet's firmware.json: it needs ${problems.join(', ') || 'an object'}`)
  }
  return {
    version: o.version as string,
    sequence: o.sequence as number,
    app_md5: o.app_md5 as string,
    app_size: o.app_size as number,
    allow_downgrade: o.allow_downgrade === true,
  }
}

/** The binary must be exactly what firmware.json describes; returns its SHA-256. */
export function matchCurrentBinary(fields: FieldManifestFields, bin: Buffer): { sha256: string } {
  const md5 = crypto.createHash('md5').update(bin).digest('hex')
  if (md5 !== fields.app_md5 || bin.length !== fields.app_size) {
    throw new CliRefusal(
      `--current-bin (MD5 ${md5}, ${bin.length} bytes) is not the binary --current-json describes (app_md5 ${fields.app_md5}, app_size ${fields.app_size}): ` +
        'give the firmware.app.bin served beside that firmware.json'
    )
  }
  if (fields.allow_downgrade) {
    throw new CliRefusal(
      'firmware.json has "allow_downgrade": true (a rollback was being served): import the release with a firmware.json that says false, then roll back with `ota-gate rollout rollback` if devices must go down'
    )
  }
  return { sha256: crypto.createHash('sha256').update(bin).digest('hex') }
}
