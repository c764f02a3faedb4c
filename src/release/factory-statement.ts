/** The facts a release key signs about a release's factory image; see the README, "Beyond the contract". */
export interface FactoryStatementFields {
  board: string
  version: string
  /** bytes of the factory image */
  size: number
  /** of the factory image */
  sha256: string
  /** of the release's application image, the one the factory image must carry */
  app_sha256: string
  /** ISO 8601 UTC, to the second: YYYY-MM-DDTHH:MM:SSZ */
  built_at: string
}

const BUILT_AT = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/

/** Whether `text` is a real UTC time written as YYYY-MM-DDTHH:MM:SSZ (the only form signed and served). */
export function isBuiltAt(text: string): boolean {
  return BUILT_AT.test(text) && new Date(text).toISOString() === text.replace('Z', '.000Z')
}

/** A time as built_at writes it: UTC, to the second. */
export function formatBuiltAt(date: Date): string {
  return date.toISOString().replace(/\.[0-9]{3}Z$/, 'Z')
}

/**
 * The exact text the release key signs to bind a factory image to its release: UTF-8, LF line
 * ends, a final LF, nothing else. Server, release tool and documentation build it from here only.
 */
export function buildFactoryStatement(fields: FactoryStatementFields): string {
  const { board, version, size, sha256, app_sha256, built_at } = fields
  for (const [name, value] of Object.entries({ board, version, sha256, app_sha256, built_at })) {
    if (/[\r\n]/.test(value)) throw new Error(`factory statement field ${name} contains a line break`)
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`factory statement field size must be a non-negative integer, got ${size}`)
  return (
    'ota-gate factory image v1\n' +
    `board: ${board}\n` +
    `version: ${version}\n` +
    `size: ${size}\n` +
    `sha256: ${sha256}\n` +
    `app_sha256: ${app_sha256}\n` +
    `built_at: ${built_at}\n`
  )
}
