import fs from 'node:fs'
import path from 'node:path'
import { databasePath } from '../../db/open'
import { BackupRefusal, backupDataFolder, restoreDataFolder, type BackupManifest } from '../../ops/backup'
import { formatBytes } from '../progress'
import { dataDir, withDataFolder } from '../data-folder'
import { CliRefusal, UsageError, print, type CliIo } from '../io'
import type { Command } from '../main'

function folderOption(value: unknown, option: string, io: CliIo): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${option} DIR is required`)
  return path.resolve(io.cwd, value)
}

async function refusing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof BackupRefusal) throw new CliRefusal(err.message)
    throw err
  }
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`

function summary(m: BackupManifest): string {
  const rows = Object.entries(m.tables)
    .filter(([table]) => ['releases', 'devices', 'tokens', 'release_keys'].includes(table))
    .map(([table, n]) => `${n} ${table}`)
  return (
    `database ${formatBytes(m.database.size)} (schema ${m.schema_version}; ${rows.join(', ')}), ` +
    `${plural(m.artifacts.count, 'artifact')} (${formatBytes(m.artifacts.bytes)}), ${plural(m.keys.length, 'key file')}`
  )
}

export const backupCommands: Command[] = [
  {
    name: 'backup',
    usage: 'backup --out DIR',
    summary: 'copy the data folder (database, binaries, keys) into a new folder while the server runs',
    options: { out: { type: 'string' } },
    async run({ values }, io) {
      const out = folderOption(values.out, '--out', io)
      // Opening a data folder creates it: a mistyped OTA_DATA_DIR would otherwise back up an empty new one.
      if (!fs.existsSync(databasePath(dataDir(io)))) {
        throw new CliRefusal(`there is no ota-gate database in ${dataDir(io)}: set OTA_DATA_DIR to the server's data folder`)
      }
      if (io.env.OTA_DATABASE_URL) {
        throw new CliRefusal('OTA_DATABASE_URL is set: back up PostgreSQL with pg_dump (docs/postgres.md), and the data folder with it')
      }
      const manifest = await withDataFolder(io, (_repos, backend, dir) => refusing(() => backupDataFolder(backend.db!, dir, out)))
      print(io, `backed up ${manifest.source} to ${out}: ${summary(manifest)}`)
      if (io.env.OTA_SERVER_KEY) {
        io.stderr.write('note: OTA_SERVER_KEY is set, so the manifest signing key is not in the data folder: keep a copy of it with this backup\n')
      }
    },
  },
  {
    name: 'restore',
    usage: 'restore --from DIR',
    summary: 'restore a backup into an empty data folder (OTA_DATA_DIR), checking every file first',
    options: { from: { type: 'string' } },
    async run({ values }, io) {
      const from = folderOption(values.from, '--from', io)
      const target = dataDir(io)
      const manifest = await refusing(() => restoreDataFolder(from, target))
      print(io, `restored the backup of ${manifest.created_at} into ${target}: ${summary(manifest)}`)
    },
  },
]
