import type { Clock } from '../../src/clock'
import { openDatabase } from '../../src/db/open'
import { createRepositories, type RepositoryOptions } from '../../src/repositories'
import { TestClock } from './clock'
import { tempDir, type TestContext } from './server'

/**
 * The repositories over a fresh SQLite file (migrated as the server does it), on a clock the test
 * moves. At the end the last_seen refreshes still waiting are written before the database closes.
 */
export function openRepositories(t: TestContext, clock: Clock = new TestClock(), options: RepositoryOptions = {}) {
  const dataDir = tempDir(t)
  const db = openDatabase(dataDir)
  const repos = createRepositories(db, clock, options)
  t.teardown(() => {
    repos.devices.close()
    db.close()
  })
  return { db, repos, clock, dataDir }
}
