import { ConfigError } from './config'
import { DATABASE_FILE } from './db/open'

// A start that fails is read by a person at a terminal or in `journalctl`: one line that says what
// is wrong and what to change, not a stack trace.

interface SystemError {
  code?: string
  message?: string
  syscall?: string
  address?: string
  port?: number
  path?: string
}

/** One readable line for an error that stopped the server before it listened. */
export function startFailureLine(err: unknown, where: { host: string; port: number; dataDir: string }): string {
  if (err instanceof ConfigError) return `ota-gate: cannot start: ${err.message.replace(/:\n\s*/, ': ').replace(/\n\s*/g, '; ')}`
  const e = (err ?? {}) as SystemError
  const database = `${where.dataDir}/${DATABASE_FILE}`
  switch (e.code) {
    case 'EADDRINUSE':
      return `ota-gate: cannot start: ${where.host}:${where.port} is already in use by another program (another ota-gate?): stop it or set OTA_PORT`
    case 'EADDRNOTAVAIL':
      return `ota-gate: cannot start: ${where.host} is not an address of this machine: set OTA_HOST (e.g. 0.0.0.0 or 127.0.0.1)`
    case 'EACCES':
    case 'EPERM':
      return e.syscall === 'listen'
        ? `ota-gate: cannot start: not allowed to listen on port ${where.port} (ports below 1024 need privileges): set OTA_PORT above 1023`
        : `ota-gate: cannot start: permission denied on ${e.path ?? where.dataDir}: give the service's user access to OTA_DATA_DIR (${where.dataDir})`
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return `ota-gate: cannot start: ${database} is not a readable SQLite database (${e.message}): restore it from a backup (\`ota-gate restore\`) or check OTA_DATA_DIR`
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
      return `ota-gate: cannot start: cannot open ${database} for writing (${e.message}): check that the service's user owns OTA_DATA_DIR (${where.dataDir})`
  }
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) {
    return `ota-gate: cannot start: the database ${database} failed to open (${e.code}: ${e.message})`
  }
  const message = (e.message ?? String(err)).split('\n')[0]
  return `ota-gate: cannot start: ${message}`
}
