import path from 'node:path'
import type { Database } from 'better-sqlite3'
import { openDatabase } from '../db/open'
import { systemClock } from '../clock'
import { createRepositories, type Repositories } from '../repositories'
import type { CliIo } from './io'

export function dataDir(io: CliIo): string {
  return path.resolve(io.cwd, io.env.OTA_DATA_DIR || './data')
}

/**
 * Commands that act on the data folder open its database the way the server does (same pragmas,
 * same migrations), so they are safe while the server runs (WAL).
 */
export async function withDataFolder<T>(io: CliIo, fn: (repos: Repositories, db: Database, dir: string) => Promise<T>): Promise<T> {
  const dir = dataDir(io)
  const db = openDatabase(dir)
  try {
    const repos = createRepositories(db, systemClock)
    try {
      return await fn(repos, db, dir)
    } finally {
      repos.devices.close()
    }
  } finally {
    db.close()
  }
}
