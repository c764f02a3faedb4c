import type { Clock } from '../../src/clock'
import { openDatabase } from '../../src/db/open'
import { createRepositories } from '../../src/repositories'
import { TestClock } from './clock'
import { tempDir, type TestContext } from './server'

/** The repositories over a fresh SQLite file (migrated as the server does it), on a clock the test moves. */
export function openRepositories(t: TestContext, clock: Clock = new TestClock()) {
  const dataDir = tempDir(t)
  const db = openDatabase(dataDir)
  t.teardown(() => db.close())
  return { db, repos: createRepositories(db, clock), clock, dataDir }
}
