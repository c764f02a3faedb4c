import type { ArtifactFile } from '../../repositories/backup'
import { ArtifactTooLarge, DigestMismatch, type ArtifactStore } from '../../store/artifact-store'
import { streamDigest } from '../../store/stream-digest'
import { CopyRefusal } from './copy-refusal'

export interface ArtifactsCopied {
  count: number
  bytes: number
  /** written by this run (the others were there from a run that stopped midway) */
  written: number
}

/**
 * Streams each artifact from `from` (the data folder's files) into `to` (PostgreSQL), one at a time
 * and never whole in memory, then reads back what `to` holds and checks that it hashes to its
 * address. Each is committed on its own: one already there (a run that stopped midway) is only
 * checked.
 */
export async function copyArtifacts(artifacts: ArtifactFile[], from: ArtifactStore, to: ArtifactStore): Promise<ArtifactsCopied> {
  let written = 0
  let bytes = 0
  for (const artifact of artifacts) {
    if ((await to.size(artifact.sha256)) === undefined) {
      try {
        await to.put(artifact.sha256, from.stream(artifact.sha256), artifact.size)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new CopyRefusal('artifact_missing', `artifact ${artifact.sha256} is recorded in the SQLite database but its file is missing from the data folder: restore it (ota-gate backup/restore), then run db copy again`)
        }
        if (err instanceof DigestMismatch || err instanceof ArtifactTooLarge) {
          throw new CopyRefusal('artifact_damaged', `the file of artifact ${artifact.sha256} in the data folder is damaged (${err.message}): restore it from a backup, then run db copy again`)
        }
        throw err
      }
      written++
    }
    const stored = await streamDigest(to.stream(artifact.sha256))
    if (stored.sha256 !== artifact.sha256 || stored.size !== artifact.size) {
      throw new CopyRefusal(
        'digest_mismatch',
        `artifact ${artifact.sha256} as stored in PostgreSQL is ${stored.size} bytes hashing to ${stored.sha256}, not ${artifact.size} bytes hashing to its address: ` +
          'delete its rows from artifact_blobs and artifact_chunks, then run db copy again'
      )
    }
    bytes += stored.size
  }
  return { count: artifacts.length, bytes, written }
}
