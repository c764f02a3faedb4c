import { Refusal } from '../errors'
import { SHA256_HEX } from '../schemas/common'

const FILE = new RegExp(`^(${SHA256_HEX})\\.bin$`)

/**
 * The SHA-256 a content-addressed binary's file name (`<sha256>.bin`) gives. Checked here rather
 * than by the params schema so that a malformed name is a 404 like any other missing file, as the
 * contract says for /v1/firmware, not a 400. `prefix` is the route's path, for the message.
 */
export function binaryDigest(file: string, prefix: string): string {
  const sha256 = FILE.exec(file)?.[1]
  if (sha256 !== undefined) return sha256
  throw new Refusal(
    'not_found',
    `"${file.slice(0, 80)}" is not a binary's file name: use ${prefix}/<sha256>.bin with 64 lowercase hex digits`
  )
}
