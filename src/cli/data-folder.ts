import path from 'node:path'
import { ConfigError, loadConfig } from '../config'
import type { Repositories } from '../repositories'
import { openBackend, type Backend, type BackendConfig } from '../repositories/backend'
import { CliRefusal, type CliIo } from './io'

export function dataDir(io: CliIo): string {
  return path.resolve(io.cwd, io.env.OTA_DATA_DIR || './data')
}

/** The data folder and, when OTA_DATABASE_URL is set, the PostgreSQL database the server uses. */
export function databaseConfig(io: CliIo): BackendConfig {
  try {
    const config = loadConfig({ OTA_DATA_DIR: dataDir(io), OTA_DATABASE_URL: io.env.OTA_DATABASE_URL, OTA_DATABASE_POOL: '2' })
    return { OTA_DATA_DIR: config.OTA_DATA_DIR, OTA_DATABASE_URL: config.OTA_DATABASE_URL, OTA_DATABASE_POOL: config.OTA_DATABASE_POOL }
  } catch (err) {
    if (err instanceof ConfigError) throw new CliRefusal(err.message)
    throw err
  }
}

/**
 * Commands that act on the server's database open it the way the server does (SQLite under the
 * data folder, or PostgreSQL at OTA_DATABASE_URL; same migrations), so they are safe while the
 * server runs.
 */
export async function withDataFolder<T>(io: CliIo, fn: (repos: Repositories, backend: Backend, dir: string) => Promise<T>): Promise<T> {
  const config = databaseConfig(io)
  const backend = await openBackend(config)
  try {
    return await fn(backend.repos, backend, config.OTA_DATA_DIR)
  } finally {
    await backend.close()
  }
}
