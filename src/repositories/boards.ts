import type { Database, Statement } from 'better-sqlite3'
import type { Clock } from '../clock'

export interface Board {
  name: string
  chip: string
  chip_id: number
  slot_size: number
  /** 1 while delta updates are on for the board */
  delta_enabled: number
  created_at: number
}

export class BoardExists extends Error {}

export class BoardsRepository {
  // Looked up by polls of boards without a release yet: prepared once.
  private readonly byName: Statement

  constructor(private readonly db: Database,
    private readonly clock: Clock
  ) {
    this.byName = db.prepare('SELECT * FROM boards WHERE name = ?')
  }

  async get(name: string): Promise<Board | undefined> {
    return this.byName.get(name) as Board | undefined
  }

  async list(): Promise<Board[]> {
    return this.db.prepare('SELECT * FROM boards ORDER BY name').all() as Board[]
  }

  async add(board: Omit<Board, 'created_at' | 'delta_enabled'>): Promise<Board> {
    const created = { ...board, delta_enabled: 1, created_at: this.clock.now() }
    try {
      this.db
        .prepare('INSERT INTO boards (name, chip, chip_id, slot_size, created_at) VALUES (@name, @chip, @chip_id, @slot_size, @created_at)')
        .run(created)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new BoardExists(`board ${board.name} already exists`)
      }
      throw err
    }
    return created
  }
}
