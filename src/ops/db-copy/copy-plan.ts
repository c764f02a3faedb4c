import type { SourceTable } from '../../repositories/copy-source'
import type { ForeignKey, TargetTable } from '../../repositories/postgres/copy-target'

// Which tables `db copy` carries over and how: decided from the two schemas as they are, so a table
// or column a later migration adds is copied without this file knowing its name.

/** Each database records its own migrations. */
const MIGRATION_RECORDS = 'schema_migrations'
/** Counts the target's triggers keep from the rows copied: compared with the source's, not copied. */
const DERIVED_TABLES = ['fleet_versions']
/**
 * Tables the PostgreSQL migrations write rows into (the default board, one-row tables such as the
 * device token secret), with how many: the copy replaces those rows with the source's, so that
 * device tokens issued by the SQLite installation keep working.
 */
const SEEDED_ROWS: Record<string, number> = { boards: 1, rollout_generation: 1, device_auth: 1 }
/** PostgreSQL's own tables the copy fills other ways: binaries through the artifact store, and the server key. */
export const ARTIFACT_TABLES = ['artifact_blobs', 'artifact_chunks']
export const SERVER_IDENTITY = 'server_identity'

export interface TableCopy {
  table: string
  /** the source's columns, all of which the target has */
  columns: string[]
  /** rows the migrations wrote are deleted first */
  seeded: boolean
  /** the target's identity column, whose sequence continues after the copied ids */
  identity?: string
}

export interface DerivedTable {
  table: string
  columns: string[]
}

export interface CopyPlan {
  /** in an order where every table comes after the tables it refers to */
  copies: TableCopy[]
  derived: DerivedTable[]
}

/** The two schemas do not match: copying would lose something. */
export class SchemaMismatch extends Error {
  override name = 'SchemaMismatch'
}

/**
 * Tables that make a target "not empty" when they have rows: every table but the migrations'
 * records, the binaries (a copy that stopped midway leaves some; they are content-addressed, so the
 * next run keeps them), the server key (checked on its own) and derived counts. A seeded table
 * counts when it has more rows than its migration wrote.
 */
export function contentTables(target: Array<Pick<TargetTable, 'name'>>): Array<{ table: string; allowed: number }> {
  const skipped = new Set([MIGRATION_RECORDS, ...ARTIFACT_TABLES, SERVER_IDENTITY, ...DERIVED_TABLES])
  return target.filter((t) => !skipped.has(t.name)).map((t) => ({ table: t.name, allowed: SEEDED_ROWS[t.name] ?? 0 }))
}

/** `tables` ordered so that each comes after those it refers to (alphabetical among equals). */
export function referenceOrder(tables: string[], foreignKeys: ForeignKey[]): string[] {
  const pending = new Set(tables)
  const needs = new Map(tables.map((t) => [t, new Set(foreignKeys.filter((k) => k.table === t && k.references !== t && pending.has(k.references)).map((k) => k.references))]))
  const order: string[] = []
  while (pending.size > 0) {
    const ready = [...pending].filter((t) => [...needs.get(t)!].every((r) => !pending.has(r))).sort()
    if (ready.length === 0) throw new SchemaMismatch(`the foreign keys of ${[...pending].join(', ')} refer to each other in a cycle`)
    for (const t of ready) {
      order.push(t)
      pending.delete(t)
    }
  }
  return order
}

/**
 * What to copy from `source` into `target`. Refuses (SchemaMismatch) when a table or a column of the
 * source has no place in the target: the PostgreSQL migrations lag the SQLite ones.
 */
export function planCopy(source: SourceTable[], target: TargetTable[], foreignKeys: ForeignKey[]): CopyPlan {
  const targets = new Map(target.map((t) => [t.name, t]))
  const problems: string[] = []
  const copied: TableCopy[] = []
  const derived: DerivedTable[] = []
  for (const s of source) {
    if (s.name === MIGRATION_RECORDS) continue
    const t = targets.get(s.name)
    if (!t) {
      problems.push(`table ${s.name} has no counterpart`)
      continue
    }
    const missing = s.columns.filter((c) => !t.columns.includes(c))
    if (missing.length > 0) {
      problems.push(`${s.name} lacks column${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`)
      continue
    }
    if (DERIVED_TABLES.includes(s.name)) derived.push({ table: s.name, columns: s.columns })
    else copied.push({ table: s.name, columns: s.columns, seeded: s.name in SEEDED_ROWS, ...(t.identity ? { identity: t.identity } : {}) })
  }
  if (problems.length > 0) {
    throw new SchemaMismatch(
      `the PostgreSQL schema cannot hold this SQLite database (${problems.join('; ')}): use the ota-gate version whose PostgreSQL migrations match its SQLite ones`
    )
  }
  const byName = new Map(copied.map((c) => [c.table, c]))
  return { copies: referenceOrder([...byName.keys()], foreignKeys).map((t) => byName.get(t)!), derived }
}
