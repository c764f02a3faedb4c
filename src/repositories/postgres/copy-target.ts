import { quoted } from '../copy-source'
import { all, one, type Queryable } from '../../db/postgres'

/** A table of the target database: its columns, primary key and identity column (if any). */
export interface TargetTable {
  name: string
  columns: string[]
  primaryKey: string[]
  /** the column a sequence numbers (GENERATED … AS IDENTITY or serial) */
  identity?: string
}

/** Table `table` has a foreign key to table `references`. */
export interface ForeignKey {
  table: string
  references: string
}

/** Placeholders a statement may carry: PostgreSQL's limit is 65,535. */
const MAX_PARAMETERS = 30_000
/** Any one number, the same in every process: the key of the lock two copies into one database take turns on. */
const COPY_LOCK = 0x07a6c0b1

/**
 * What `db copy` reads and writes in the PostgreSQL database it fills: the schema's tables, keys and
 * sequences, and rows written as they come from SQLite. Everything goes through `q`, the one
 * transaction the copy runs in.
 */
export class PgCopyTarget {
  constructor(private readonly q: Queryable) {}

  async tables(): Promise<TargetTable[]> {
    const columns = await all<{ table_name: string; column_name: string; identity: boolean }>(
      this.q,
      `SELECT c.table_name, c.column_name, (c.is_identity = 'YES' OR c.column_default LIKE 'nextval(%') AS identity
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
       WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
       ORDER BY c.table_name, c.ordinal_position`
    )
    const keys = await all<{ table_name: string; column_name: string }>(
      this.q,
      `SELECT tc.table_name, k.column_name
       FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage k
         ON k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name
       WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY'
       ORDER BY tc.table_name, k.ordinal_position`
    )
    const tables = new Map<string, TargetTable>()
    for (const c of columns) {
      const table = tables.get(c.table_name) ?? { name: c.table_name, columns: [], primaryKey: [] }
      table.columns.push(c.column_name)
      if (c.identity) table.identity = c.column_name
      tables.set(c.table_name, table)
    }
    for (const k of keys) tables.get(k.table_name)?.primaryKey.push(k.column_name)
    return [...tables.values()]
  }

  async foreignKeys(): Promise<ForeignKey[]> {
    return all<ForeignKey>(
      this.q,
      `SELECT src.relname AS table, dst.relname AS references
       FROM pg_constraint c
       JOIN pg_class src ON src.oid = c.conrelid
       JOIN pg_class dst ON dst.oid = c.confrelid
       WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`
    )
  }

  async hasRows(table: string): Promise<boolean> {
    return (await one<{ any: boolean }>(this.q, `SELECT EXISTS (SELECT 1 FROM ${quoted(table)}) AS any`))!.any
  }

  async count(table: string): Promise<number> {
    return (await one<{ n: number }>(this.q, `SELECT count(*) AS n FROM ${quoted(table)}`))!.n
  }

  /** The rows of `table` as arrays of `columns`' values, in the order of `orderBy`. */
  async rows(table: string, columns: string[], orderBy: string[]): Promise<unknown[][]> {
    const result = await this.q.query({
      text: `SELECT ${columns.map(quoted).join(', ')} FROM ${quoted(table)} ORDER BY ${orderBy.map(quoted).join(', ')}`,
      rowMode: 'array',
    })
    return result.rows as unknown[][]
  }

  /** How many rows one insert of `columns` may carry. */
  static batchRows(columns: string[]): number {
    return Math.max(1, Math.min(1000, Math.floor(MAX_PARAMETERS / columns.length)))
  }

  /** Inserts `rows` (arrays of `columns`' values) with the ids they have. */
  async insert(table: string, columns: string[], rows: unknown[][]): Promise<void> {
    if (rows.length === 0) return
    const width = columns.length
    const values = rows.map((_, r) => `(${columns.map((_, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ')
    await this.q.query(
      `INSERT INTO ${quoted(table)} (${columns.map(quoted).join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${values}`,
      rows.flat()
    )
  }

  /** Deletes every row of `table` (the defaults migrations wrote, before the copied rows replace them). */
  async clear(table: string): Promise<void> {
    await this.q.query(`DELETE FROM ${quoted(table)}`)
  }

  /** Moves the sequence of `table`'s identity column past the largest id in it: new rows continue after the copied ones. */
  async continueIdentity(table: string, column: string): Promise<void> {
    await this.q.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max(${quoted(column)}), 0) + 1, false) FROM ${quoted(table)}`,
      [quoted(table), column]
    )
  }

  /** Waits for any other copy into this database to end, then holds the lock until this transaction ends. */
  async lock(): Promise<void> {
    await this.q.query('SELECT pg_advisory_xact_lock($1)', [COPY_LOCK])
  }

  /** The key id the database records for signing manifests, if any. */
  async serverKeyId(): Promise<string | undefined> {
    return (await one<{ key_id: string }>(this.q, 'SELECT key_id FROM server_identity WHERE id = 1'))?.key_id
  }

  /** Records the manifest signing key, as the first instance to start would. */
  async recordServerKey(key: { keyId: string; publicKeyPem: string }, now: number): Promise<void> {
    await this.q.query(
      'INSERT INTO server_identity (id, key_id, public_key_pem, recorded_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING',
      [key.keyId, key.publicKeyPem, now]
    )
  }
}
