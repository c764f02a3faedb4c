import type { Repositories } from '../../src/repositories'
import { openBackend } from '../../src/repositories/backend'
import { postgres, postgresUnavailable } from './postgres'
import { tempDir, type TestContext } from './server'

// One suite, both backends: a test written once runs on SQLite always and on PostgreSQL where it
// can run (a throwaway cluster per test file, a database per test; skipped with the reason where
// PostgreSQL is missing).

export type BackendName = 'sqlite' | 'postgres'

export interface TestDatabase {
  backend: BackendName
  repos: Repositories
  /** Runs SQL written with ? parameters on whichever backend; returns its rows (none for a write). */
  sql<T = Record<string, unknown>>(text: string, ...params: unknown[]): Promise<T[]>
}

export interface BackendCase {
  name: BackendName
  /** Server settings that point at a fresh database of this backend (none for SQLite: the data folder's). */
  serverEnv(t: Skippable): Promise<Record<string, string>>
  /** The repositories over a fresh database, opened as the server opens them, closed at teardown. */
  open(t: Skippable & TestContext): Promise<TestDatabase>
}

interface Skippable {
  skip(name: string, cb: () => void): unknown
}

const numbered = (text: string) => {
  let n = 0
  return text.replace(/\?/g, () => `$${++n}`)
}

async function databaseUrl(t: Skippable): Promise<string> {
  const cluster = await postgres(t)
  if (!cluster) throw new Error('PostgreSQL is not available')
  return cluster.createDatabase()
}

const SQLITE: BackendCase = {
  name: 'sqlite',
  async serverEnv() {
    return {}
  },
  async open(t) {
    const backend = await openBackend({ OTA_DATA_DIR: tempDir(t), OTA_DATABASE_URL: undefined, OTA_DATABASE_POOL: 1 })
    t.teardown(() => backend.close())
    const db = backend.db!
    return {
      backend: 'sqlite',
      repos: backend.repos,
      async sql<T>(text: string, ...params: unknown[]) {
        const statement = db.prepare(text)
        if (statement.reader) return statement.all(...params) as T[]
        statement.run(...params)
        return []
      },
    }
  },
}

const POSTGRES: BackendCase = {
  name: 'postgres',
  async serverEnv(t) {
    return { OTA_DATABASE_URL: await databaseUrl(t) }
  },
  async open(t) {
    const url = await databaseUrl(t)
    const backend = await openBackend({ OTA_DATA_DIR: tempDir(t), OTA_DATABASE_URL: url, OTA_DATABASE_POOL: 4 })
    t.teardown(() => backend.close())
    const pool = backend.pool!
    return {
      backend: 'postgres',
      repos: backend.repos,
      async sql<T>(text: string, ...params: unknown[]) {
        return (await pool.query(numbered(text), params)).rows as T[]
      },
    }
  },
}

/** Both backends: SQLite, and PostgreSQL (its tests skip with the reason where it cannot run). */
export function backends(): BackendCase[] {
  return [SQLITE, POSTGRES]
}

interface Suite<T> {
  test(name: string, fn: (t: T) => Promise<void>): unknown
  test(name: string, extra: { skip: string }, fn: (t: T) => Promise<void>): unknown
}

/** Registers `name` once per backend: "name [sqlite]", "name [postgres]". */
export function eachBackend<T extends Skippable & TestContext>(t: Suite<T>, name: string, fn: (t: T, backend: BackendCase) => Promise<void>): void {
  for (const backend of backends()) {
    const reason = backend.name === 'postgres' ? postgresUnavailable() : undefined
    if (reason) t.test(`${name} [${backend.name}]`, { skip: `PostgreSQL tests skipped: ${reason}` }, async () => undefined)
    else t.test(`${name} [${backend.name}]`, (t) => fn(t, backend))
  }
}
