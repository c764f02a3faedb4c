import type { Database, Statement } from 'better-sqlite3'

/** A row of factory_images: the merged flash image recorded with a release. */
export interface FactoryImage {
  release_id: number
  sha256: string
  size: number
  md5: string
  built_at: string
  signature: string
  key_id: string
  app_offset: number
  flash_size: number
  created_at: number
}

export type NewFactoryImage = Omit<FactoryImage, 'release_id' | 'created_at'>

export const FACTORY_IMAGE_COLUMNS = ['release_id', 'sha256', 'size', 'md5', 'built_at', 'signature', 'key_id', 'app_offset', 'flash_size', 'created_at'] as const

/** The INSERT a release's own transaction runs (ReleasesRepository.insert), so a release and its factory image are recorded together. */
export function prepareFactoryImageInsert(db: Database): (releaseId: number, image: NewFactoryImage, at: number) => FactoryImage {
  const insert = db.prepare(`INSERT INTO factory_images (${FACTORY_IMAGE_COLUMNS.join(', ')}) VALUES (${FACTORY_IMAGE_COLUMNS.map((c) => '@' + c).join(', ')})`)
  return (releaseId, image, at) => {
    const row: FactoryImage = { ...image, release_id: releaseId, created_at: at }
    insert.run(row)
    return row
  }
}

/** Factory images, looked up by the first-flash paths. */
export class FactoryImagesRepository {
  private readonly byRelease: Statement<[number], FactoryImage>
  private readonly upToSequence: Statement<[string, string, number], FactoryImage>
  private readonly byBoard: Statement<[{ board: string | null }], FactoryImage>
  private readonly byDigest: Statement<[string], FactoryImage>

  constructor(db: Database) {
    this.byRelease = db.prepare('SELECT * FROM factory_images WHERE release_id = ?')
    this.upToSequence = db.prepare(`SELECT f.* FROM factory_images f JOIN releases r ON r.id = f.release_id
      WHERE r.board = ? AND r.channel = ? AND r.sequence <= ? ORDER BY r.sequence DESC`)
    this.byBoard = db.prepare(`SELECT f.* FROM factory_images f JOIN releases r ON r.id = f.release_id
      WHERE (@board IS NULL OR r.board = @board)`)
    // No index on sha256: one row per release with a factory image, so the scan stays small.
    this.byDigest = db.prepare('SELECT * FROM factory_images WHERE sha256 = ? LIMIT 1')
  }

  /** The factory image recorded with a release, if any. */
  async ofRelease(releaseId: number): Promise<FactoryImage | undefined> {
    return this.byRelease.get(releaseId)
  }

  /** A factory image with these bytes, recorded with any release (the same bytes may serve several). */
  async withDigest(sha256: string): Promise<FactoryImage | undefined> {
    return this.byDigest.get(sha256)
  }

  /** Factory images of the board and channel's releases up to `sequence`, newest release first. */
  async upTo(board: string, channel: string, sequence: number): Promise<FactoryImage[]> {
    return this.upToSequence.all(board, channel, sequence)
  }

  /** Factory images by release id, of one board or all. */
  async byReleaseId(board?: string): Promise<Map<number, FactoryImage>> {
    return new Map(this.byBoard.all({ board: board ?? null }).map((f) => [f.release_id, f]))
  }
}
