import { createHash } from 'node:crypto'

/** SHA-256 and length of the bytes a stream yields, read through once and never held whole. */
export async function streamDigest(bytes: AsyncIterable<unknown>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of bytes) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { sha256: hash.digest('hex'), size }
}
