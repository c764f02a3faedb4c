import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { migrate } from './migrate'

export const DATABASE_FILE = 'ota-gate.db'

/** Address space for reading the database file (the kernel's page cache, not the process's heap). */
const MMAP_BYTES = 1024 * 1024 * 1024

/**
 * WAL pages after which a commit copies them back into the database file (SQLite's default is
 * 1,000), where no worker does it (wal-checkpoints.ts): in the CLI, and in a server until it writes
 * in earnest. Each poll's refresh dirties a device row's page and two index pages; copied back four
 * times less often, a page written again meanwhile is copied once and the fsync is shared: a
 * refresh of a random device among 1,000,000 went from 55 to 47 CPU µs. A checkpoint then takes
 * some 20 ms instead of 5, once per ~1,600 refreshes; the WAL file grows to about 16 MB.
 */
export const WAL_CHECKPOINT_PAGES = 4000

/** SQLite's page size, which ota-gate's databases keep. */
export const PAGE_BYTES = 4096

/**
 * The WAL's bound: past it a commit on the event loop copies the WAL back even while a worker does
 * (wal-checkpoints.ts), and its file is cut back to this size when the WAL starts over.
 */
export const WAL_BOUND_PAGES = 4 * WAL_CHECKPOINT_PAGES

export function databasePath(dataDir: string): string {
  return path.join(dataDir, DATABASE_FILE)
}

/**
 * Opens the data folder's database with the pragmas ota-gate relies on and brings its schema up
 * to date. WAL with synchronous=NORMAL keeps every committed transaction across a process crash
 * (kill -9); only a power loss can take the last few, which devices simply repeat on their next poll.
 */
export function openDatabase(dataDir: string, options: { migrate?: boolean } = {}): Database {
  fs.mkdirSync(dataDir, { recursive: true })
  const db = new BetterSqlite3(databasePath(dataDir))
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    // Pages read through a memory map, not a read() into SQLite's own 16 MB cache each: a poll reads
    // a device row somewhere in a file of ~200 MB per million devices, a cache miss nearly every time.
    db.pragma(`mmap_size = ${MMAP_BYTES}`)
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`)
    // A WAL that grew under a burst is cut back to this when it starts over, not kept at its peak.
    db.pragma(`journal_size_limit = ${WAL_BOUND_PAGES * PAGE_BYTES}`)
    if (options.migrate !== false) migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}
