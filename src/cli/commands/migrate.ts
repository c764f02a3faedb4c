import { migrate } from '../../db/migrate'
import { openDatabase } from '../../db/open'
import { dataDir } from '../data-folder'
import { print } from '../io'
import type { Command } from '../command'

export const migrateCommand: Command = {
  name: 'migrate',
  usage: 'migrate',
  summary: 'apply pending database migrations to the data folder (the server also does this at start)',
  async run(_args, io) {
    const db = openDatabase(dataDir(io), { migrate: false })
    try {
      const applied = migrate(db)
      print(io, applied.length ? `applied ${applied.join(', ')}` : 'the database is up to date')
    } finally {
      db.close()
    }
  },
}
