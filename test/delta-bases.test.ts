import t from 'tap'
import { openDatabase } from '../src/db/open'
import { createRepositories } from '../src/repositories'
import { POPULAR_BASE_SHARE } from '../src/release/delta-builds'
import { PUBLISHED, releaseRow as release, withArtifacts } from './support/release-rows'
import { tempDir } from './support/server'

// Which earlier releases get a patch built ahead because many devices run them: with device
// credentials on, only devices that proved who they are may make a base "popular".

t.test('a base run by unproven devices only is popular only while credentials are off', async (t) => {
  const db = openDatabase(tempDir(t))
  t.teardown(() => db.close())
  const repos = createRepositories(db)
  await withArtifacts(repos, 1, 2)
  await repos.releases.insert(release(1), PUBLISHED)
  await repos.releases.insert(release(2), PUBLISHED)
  // The per-version counts the device triggers keep: 90 unproven devices claim v1, 10 proven ones run v2.
  const count = db.prepare('INSERT INTO fleet_versions (board, channel, version, sequence, devices, verified) VALUES (?, ?, ?, ?, ?, ?)')
  count.run('esp32cam', 'stable', 'v1', 1, 90, 0)
  count.run('esp32cam', 'stable', 'v2', 2, 10, 10)

  t.same((await repos.deltaPatches.popularBases('esp32cam', POPULAR_BASE_SHARE, false)).sort(), [release(1).sha256, release(2).sha256].sort(), 'credentials off: every device counts')
  t.same(await repos.deltaPatches.popularBases('esp32cam', POPULAR_BASE_SHARE, true), [release(2).sha256], 'credentials on: the unproven claims choose nothing')
})
