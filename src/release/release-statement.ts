/** The facts a release key signs; see CONTRACT.md, "The release statement and its signature". */
export interface ReleaseStatementFields {
  board: string
  version: string
  sequence: number
  size: number
  sha256: string
  tag: string
  commit: string
}

/**
 * The exact text signed by the offline release key: UTF-8, LF line ends, a final LF, nothing else.
 * The server, the release tool and the firmware must build byte-identical text, so this is the
 * only place it is written down in code.
 */
export function buildReleaseStatement(fields: ReleaseStatementFields): string {
  const { board, version, sequence, size, sha256, tag, commit } = fields
  for (const [name, value] of Object.entries({ board, version, sha256, tag, commit })) {
    // A line break inside a value would let one statement read as another.
    if (/[\r\n]/.test(value)) throw new Error(`release statement field ${name} contains a line break`)
  }
  for (const [name, value] of Object.entries({ sequence, size })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`release statement field ${name} must be a non-negative integer, got ${value}`)
  }
  return (
    'ota-gate release v1\n' +
    `board: ${board}\n` +
    `version: ${version}\n` +
    `sequence: ${sequence}\n` +
    `size: ${size}\n` +
    `sha256: ${sha256}\n` +
    `tag: ${tag}\n` +
    `commit: ${commit}\n`
  )
}
