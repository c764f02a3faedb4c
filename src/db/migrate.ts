import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Database } from 'better-sqlite3'

/** The project's migrations folder, found the same way from src/ (tests) and dist/ (production). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations')

export class MigrationError extends Error {}

export interface Migration {
  version: number
  name: string
  sql: string
  checksum: string
}

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((file) => {
      const m = FILE_NAME.exec(file)
      if (!m) throw new MigrationError(`migration file ${file} must be named NNN_name.sql`)
      const sql = fs.readFileSync(path.join(dir, file), 'utf8')
      return { version: Number(m[1]), name: m[2], sql, checksum: createHash('sha256').update(sql).digest('hex') }
    })
    .sort((a, b) => a.version - b.version)
  migrations.forEach((m, i) => {
    if (i > 0 && migrations[i - 1].version === m.version) {
      throw new MigrationError(`two migrations share number ${String(m.version).padStart(3, '0')}`)
    }
  })
  return migrations
}

export interface AppliedMigration {
  version: number
  checksum: string
}

/**
 * The migrations still to apply, in order, each with the label errors name it by. Throws when one
 * already applied has been edited since: the schema would no longer be what the file says.
 */
export function pendingMigrations(
  migrations: Migration[],
  applied: AppliedMigration[],
  folder = ''
): { migration: Migration; label: string }[] {
  const recorded = new Map(applied.map((r) => [r.version, r.checksum]))
  const pending: { migration: Migration; label: string }[] = []
  for (const m of migrations) {
    const label = `${folder}${String(m.version).padStart(3, '0')}_${m.name}.sql`
    const checksum = recorded.get(m.version)
    if (checksum === undefined) pending.push({ migration: m, label })
    else if (checksum !== m.checksum) {
      throw new MigrationError(
        `migration ${label} was edited after it was applied (checksum ${checksum.slice(0, 12)}… recorded, ` +
          `${m.checksum.slice(0, 12)}… on disk): restore the file and put the change in a new migration`
      )
    }
  }
  return pending
}

/**
 * Applies pending migrations in order, each in its own transaction, and refuses to go on when a
 * migration that was already applied has been edited since: the schema would no longer be what
 * the file says.
 */
export function migrate(db: Database, migrations: Migration[] = readMigrations()): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`)
  const applied = db.prepare('SELECT version, checksum FROM schema_migrations').all() as AppliedMigration[]
  const record = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)')
  const done: string[] = []
  for (const { migration: m, label } of pendingMigrations(migrations, applied)) {
    try {
      db.transaction(() => {
        db.exec(m.sql)
        record.run(m.version, m.name, m.checksum, Date.now())
      })()
    } catch (err) {
      throw new MigrationError(`migration ${label} failed and was rolled back: ${(err as Error).message}`)
    }
    done.push(label)
  }
  return done
}
