import type { Readable } from 'node:stream'

export interface StoredArtifact {
  sha256: string
  md5: string
  size: number
}

export interface PutResult extends StoredArtifact {
  /** false when the same bytes were already stored */
  created: boolean
}

export interface ByteRange {
  /** first byte, inclusive */
  start: number
  /** last byte, inclusive */
  end: number
}

/**
 * Where release binaries live. Routes and services see only this interface, so an object-store
 * backend can replace the file system without touching them.
 */
export interface ArtifactStore {
  /**
   * Streams `body` into the store while hashing it. Keeps the bytes only if they hash to
   * `sha256`; throws ArtifactTooLarge past `maxBytes` and DigestMismatch otherwise, leaving nothing behind.
   */
  put(sha256: string, body: Readable, maxBytes: number): Promise<PutResult>
  /** Size in bytes, or undefined when the store does not hold it. */
  size(sha256: string): Promise<number | undefined>
  /** The whole artifact (images are at most a few MiB; used to validate and to warm the cache). */
  read(sha256: string): Promise<Buffer>
  /** A stream of the artifact or a part of it. */
  stream(sha256: string, range?: ByteRange): Readable
  /** Deletes the artifact's bytes; nothing happens when the store does not hold them. */
  remove(sha256: string): Promise<void>
}

export class DigestMismatch extends Error {
  constructor(readonly expected: string, readonly actual: string, readonly size: number) {
    super(`the ${size} bytes received hash to ${actual}, not ${expected}`)
  }
}

export class ArtifactTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the artifact is larger than the ${maxBytes}-byte maximum`)
  }
}
