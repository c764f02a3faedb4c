import type { Database } from 'better-sqlite3'

/** A table of the source database and its columns, in the order SQLite declares them. */
export interface SourceTable {
  name: string
  columns: string[]
}

/** A table or column name as SQL writes it: double-quoted, inner quotes doubled. */
export const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`

/**
 * What `db copy` reads from an SQLite database: its migrations, tables, row counts and rows. The
 * caller opens one read transaction around all of it (begin … end), so every read sees one
 * snapshot while a server may go on writing.
 */
export class SqliteCopySource {
  constructor(private readonly db: Database) {}

  /** Starts the read transaction and takes its snapshot at once (SQLite takes it at the first read). */
  begin(): void {
    this.db.exec('BEGIN')
    this.db.prepare('SELECT count(*) FROM sqlite_schema').get()
  }

  end(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT')
  }

  /** The versions of the migrations applied (none for a folder never migrated). */
  appliedMigrations(): number[] {
    const hasTable = this.db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined
    if (!hasTable) return []
    return this.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[]
  }

  tables(): SourceTable[] {
    const names = this.db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[]
    return names.map((name) => ({
      name,
      columns: (this.db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).pluck().all(name) as string[]),
    }))
  }

  count(table: string): number {
    return this.db.prepare(`SELECT count(*) FROM ${quoted(table)}`).pluck().get() as number
  }

  /** The rows of `table`, as arrays of `columns`' values, in the order of `orderBy`, read one at a time. */
  rows(table: string, columns: string[], orderBy: string[] = []): IterableIterator<unknown[]> {
    const order = orderBy.length === 0 ? '' : ` ORDER BY ${orderBy.map(quoted).join(', ')}`
    return this.db
      .prepare(`SELECT ${columns.map(quoted).join(', ')} FROM ${quoted(table)}${order}`)
      .raw(true)
      .iterate() as IterableIterator<unknown[]>
  }
}
