import fs from 'node:fs'
import path from 'node:path'
import { systemClock } from '../../clock'
import { databaseUrlProblem } from '../../config'
import type { CopySummary } from '../../ops/db-copy/copy-database'
import { CopyRefusal } from '../../ops/db-copy/copy-refusal'
import { SERVER_KEY_FILE, ServerKeyError, loadServerKey, type ServerKey } from '../../manifest/server-key'
import { formatBytes } from '../progress'
import { dataDir } from '../data-folder'
import { flag, printJson } from '../flags'
import { CliRefusal, UsageError, print, type CliIo } from '../io'
import type { Command } from '../command'

/** The key the installation signs manifests with (OTA_SERVER_KEY, or the data folder's), without making one. */
function installationKey(io: CliIo, dir: string): ServerKey | undefined {
  const setting = io.env.OTA_SERVER_KEY || undefined
  if (setting === undefined && !fs.existsSync(path.join(dir, SERVER_KEY_FILE))) return undefined
  try {
    return loadServerKey(setting, dir)
  } catch (err) {
    if (err instanceof ServerKeyError) throw new CliRefusal(err.message)
    throw err
  }
}

/** The URL without its user and password, to print. */
function shown(url: string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}

function describe(s: CopySummary, to: string): string[] {
  const rows = Object.values(s.tables).reduce((a, b) => a + b, 0)
  const main = ['releases', 'devices', 'reports', 'rollouts', 'tokens'].map((t) => `${s.tables[t] ?? 0} ${t}`).join(', ')
  return [
    `copied ${s.source} into ${shown(to)}: ${Object.keys(s.tables).length} tables, ${rows} rows (${main}), ` +
      `${s.artifacts.count} artifacts (${formatBytes(s.artifacts.bytes)}, ${s.artifacts.written} written by this run)`,
    'checked: row counts of every table, the fleet counts, and the SHA-256 of every artifact as stored in PostgreSQL',
    s.server_key_id === null
      ? 'server key: none recorded (the installation never made one); the first instance to start records its own'
      : `server key: ${s.server_key_id} recorded; start every instance with OTA_SERVER_KEY set to that key (the installation's keys/server-key.pem unless OTA_SERVER_KEY was set)`,
  ]
}

export const dbCommands: Command[] = [
  {
    name: 'db copy',
    usage: 'db copy --to postgres://USER:PASSWORD@HOST:5432/DB [--json]',
    summary:
      'copy the SQLite installation under OTA_DATA_DIR (every table and binary) into an empty PostgreSQL database, checking counts and digests; safe to run again after a failure',
    options: { to: { type: 'string' }, json: { type: 'boolean' } },
    async run({ values }, io) {
      const to = flag(values, 'to')
      if (to === undefined || to === '') throw new UsageError('--to postgres://… is required: the empty PostgreSQL database to copy into')
      const problem = databaseUrlProblem(to)
      if (problem !== undefined) throw new UsageError(`--to (hidden): ${problem}, like postgres://ota:secret@db.example:5432/ota`)
      const dir = dataDir(io)
      let summary: CopySummary
      try {
        // Loaded here: every other command runs without the PostgreSQL client.
        const { copyDatabase } = await import('../../ops/db-copy/copy-database.js')
        summary = await copyDatabase({ dataDir: dir, url: to, serverKey: installationKey(io, dir), clock: systemClock })
      } catch (err) {
        if (!(err instanceof CopyRefusal)) throw err
        if (values.json) printJson(io, { error: err.code, message: err.message })
        throw new CliRefusal(`${err.message} (${err.code})`)
      }
      if (values.json) return printJson(io, summary)
      for (const line of describe(summary, to)) print(io, line)
    },
  },
]
