import fs from 'node:fs'
import BetterSqlite3 from 'better-sqlite3'
import type { Clock } from '../../clock'
import { BackupRepository } from '../../repositories/backup'
import { SqliteCopySource } from '../../repositories/copy-source'
import { PgCopyTarget } from '../../repositories/postgres/copy-target'
import { FsArtifactStore } from '../../store/fs-artifact-store'
import { PgArtifactStore } from '../../store/pg-artifact-store'
import { readMigrations } from '../../db/migrate'
import { databasePath } from '../../db/open'
import { migratePostgres, openPostgres, transaction } from '../../db/postgres'
import { copyArtifacts, type ArtifactsCopied } from './copy-artifacts'
import { SchemaMismatch, contentTables, planCopy, type CopyPlan } from './copy-plan'
import { CopyRefusal } from './copy-refusal'

export interface CopyOptions {
  /** the SQLite installation's data folder (OTA_DATA_DIR) */
  dataDir: string
  /** the PostgreSQL database to fill */
  url: string
  /** the key the installation signs manifests with, recorded for the instances to come; none if it never made one */
  serverKey?: { keyId: string; publicKeyPem: string }
  clock: Clock
}

export interface CopySummary {
  source: string
  /** rows copied per table, each equal in both databases */
  tables: Record<string, number>
  /** rows of the counts the target's triggers rebuilt, each equal to the source's */
  derived: Record<string, number>
  artifacts: ArtifactsCopied
  /** the manifest signing key recorded in the target, if any */
  server_key_id: string | null
}

function checkMigrations(applied: number[]): void {
  const known = readMigrations().map((m) => m.version)
  const newer = applied.filter((v) => !known.includes(v))
  if (newer.length > 0) {
    throw new CopyRefusal('source_newer', `the SQLite database has migrations this ota-gate does not know (${newer.join(', ')}): run db copy with the ota-gate version that serves it`)
  }
  const missing = known.filter((v) => !applied.includes(v))
  if (missing.length > 0) {
    throw new CopyRefusal('source_not_migrated', `the SQLite database lacks migrations ${missing.join(', ')}: run \`ota-gate migrate\` on the data folder (or start the server once), then db copy again`)
  }
}

/** Refuses a target holding anything but what its migrations wrote, binaries of an earlier run, and the same server key. */
async function refuseNonEmpty(target: PgCopyTarget, serverKey: CopyOptions['serverKey']): Promise<void> {
  const tables = await target.tables()
  const filled: string[] = []
  for (const { table, allowed } of contentTables(tables)) {
    if (allowed === 0 ? await target.hasRows(table) : (await target.count(table)) > allowed) filled.push(table)
  }
  if (filled.length > 0) {
    throw new CopyRefusal(
      'target_not_empty',
      `the PostgreSQL database already holds ota-gate data (rows in ${filled.slice(0, 5).join(', ')}${filled.length > 5 ? ', …' : ''}); ` +
        'nothing was written. Copy into a new empty database (createdb), or drop and recreate this one'
    )
  }
  const recorded = tables.some((t) => t.name === 'server_identity') ? await target.serverKeyId() : undefined
  if (recorded !== undefined && recorded !== serverKey?.keyId) {
    throw new CopyRefusal(
      'server_key_mismatch',
      `the PostgreSQL database records server key ${recorded} for signing manifests, but this installation ` +
        `${serverKey ? `signs with key ${serverKey.keyId}` : 'has no server key'}; nothing was written. Delete the row of server_identity ` +
        '(an instance started on the empty database recorded it), or set OTA_SERVER_KEY to the key the installation signs with'
    )
  }
}

const sortedRows = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort()

/**
 * Copies every table in `plan` from `source` into `target` (one transaction), continues the
 * identity sequences after the copied ids, records the server key, and checks row counts and the
 * derived counts. Throws CopyRefusal on a difference, which rolls the whole transaction back.
 */
async function copyTables(source: SqliteCopySource, target: PgCopyTarget, plan: CopyPlan, options: CopyOptions): Promise<Pick<CopySummary, 'tables' | 'derived'>> {
  const tables: Record<string, number> = {}
  for (const copy of plan.copies) {
    if (copy.seeded) await target.clear(copy.table)
    const batch = PgCopyTarget.batchRows(copy.columns)
    let rows: unknown[][] = []
    let n = 0
    for (const row of source.rows(copy.table, copy.columns)) {
      rows.push(row)
      if (rows.length === batch) {
        await target.insert(copy.table, copy.columns, rows)
        n += rows.length
        rows = []
      }
    }
    await target.insert(copy.table, copy.columns, rows)
    tables[copy.table] = n + rows.length
    if (copy.identity) await target.continueIdentity(copy.table, copy.identity)
  }
  if (options.serverKey) await target.recordServerKey(options.serverKey, options.clock.now())

  const differences: string[] = []
  for (const copy of plan.copies) {
    const expected = source.count(copy.table)
    const actual = await target.count(copy.table)
    if (actual !== expected || tables[copy.table] !== expected) differences.push(`${copy.table}: ${expected} in SQLite, ${actual} in PostgreSQL`)
  }
  const derived: Record<string, number> = {}
  for (const d of plan.derived) {
    const expected = sortedRows([...source.rows(d.table, d.columns)])
    const actual = sortedRows(await target.rows(d.table, d.columns, d.columns))
    if (expected.join('\n') !== actual.join('\n')) differences.push(`${d.table} (kept by triggers) differs: ${expected.length} rows in SQLite, ${actual.length} in PostgreSQL`)
    derived[d.table] = actual.length
  }
  if (differences.length > 0) {
    throw new CopyRefusal('count_mismatch', `the copy does not match its source, so none of it was kept (${differences.join('; ')}): report this as a bug`)
  }
  return { tables, derived }
}

/**
 * `ota-gate db copy`: the SQLite installation under `dataDir` (every table, every binary it refers
 * to) into the empty PostgreSQL database at `url`, migrated first as a starting instance would.
 *
 * The source is read in one SQLite read transaction: one snapshot, whatever a running server writes
 * meanwhile. Binaries go first, each streamed and committed on its own and read back to check its
 * digest; then every table in one PostgreSQL transaction, checked before it commits. A run that
 * stops anywhere leaves at most binaries behind, which do not make the target "not empty": running
 * it again copies what is missing and checks everything.
 */
export async function copyDatabase(options: CopyOptions): Promise<CopySummary> {
  const file = databasePath(options.dataDir)
  if (!fs.existsSync(file)) {
    throw new CopyRefusal('source_missing', `there is no ota-gate database in ${options.dataDir}: set OTA_DATA_DIR to the SQLite installation's data folder`)
  }
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true })
  const pool = openPostgres({ url: options.url, pool: 2 })
  const source = new SqliteCopySource(db)
  try {
    db.pragma('busy_timeout = 5000')
    source.begin()
    checkMigrations(source.appliedMigrations())
    // Before anything is written, migrations included.
    await refuseNonEmpty(new PgCopyTarget(pool), options.serverKey)
    await migratePostgres(pool)
    let plan: CopyPlan
    try {
      const target = new PgCopyTarget(pool)
      plan = planCopy(source.tables(), await target.tables(), await target.foreignKeys())
    } catch (err) {
      if (err instanceof SchemaMismatch) throw new CopyRefusal('schema_mismatch', err.message)
      throw err
    }
    const files = new FsArtifactStore(options.dataDir, { removeLeftovers: false })
    const artifacts = await copyArtifacts(await new BackupRepository(db).artifacts(), files, new PgArtifactStore(pool, options.clock))
    const copied = await transaction(pool, async (client) => {
      const target = new PgCopyTarget(client)
      await target.lock()
      await refuseNonEmpty(target, options.serverKey)
      return copyTables(source, target, plan, options)
    })
    return { source: options.dataDir, ...copied, artifacts, server_key_id: options.serverKey?.keyId ?? null }
  } finally {
    source.end()
    db.close()
    await pool.end()
  }
}
