import { migrate } from '../../db/migrate'
import { openDatabase } from '../../db/open'
import { dataDir, databaseConfig } from '../data-folder'
import { print } from '../io'
import type { Command } from '../command'

export const migrateCommand: Command = {
  name: 'migrate',
  usage: 'migrate',
  summary: 'apply pending database migrations to the data folder, or to OTA_DATABASE_URL (the server also does this at start)',
  async run(_args, io) {
    const { OTA_DATABASE_URL: url } = databaseConfig(io)
    if (url !== undefined) {
      // Loaded here: on SQLite the PostgreSQL client is never loaded.
      const { migratePostgres, openPostgres } = await import('../../db/postgres.js')
      const pool = openPostgres({ url, pool: 1 })
      try {
        const applied = await migratePostgres(pool)
        print(io, applied.length ? `applied ${applied.join(', ')}` : 'the database is up to date')
      } finally {
        await pool.end()
      }
      return
    }
    const db = openDatabase(dataDir(io), { migrate: false })
    try {
      const applied = migrate(db)
      print(io, applied.length ? `applied ${applied.join(', ')}` : 'the database is up to date')
    } finally {
      db.close()
    }
  },
}
