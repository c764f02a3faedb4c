import t from 'tap'
import { openDatabase } from '../src/db/open'
import { createRepositories } from '../src/repositories'
import type { NewRelease } from '../src/repositories/releases'
import { POPULAR_BASE_SHARE } from '../src/release/delta-builds'
import { tempDir } from './support/server'

// Which earlier releases get a patch built ahead because many devices run them: with device
// credentials on, only devices that proved who they are may make a base "popular".

function release(n: number): NewRelease {
  return {
    board: 'esp32cam',
    channel: 'stable',
    version: `v${n}`,
    sequence: n,
    sha256: n.toString(16).repeat(64),
    size: 1000 + n,
    md5: 'a'.repeat(32),
    tag: `prod-v${n}`,
    commit_sha: 'c'.repeat(40),
    signature: 'c2ln',
    key_id: null,
    provenance: 'attested',
    chip: 'esp32',
    project_name: 'cam',
    app_version: `v${n}`,
    idf_version: 'v5.1',
    secure_version: 0,
    build_date: 'Jan  1 2026',
    build_time: '12:00:00',
    notes: null,
    published_by: 'ci',
  }
}

t.test('a base run by unproven devices only is popular only while credentials are off', async (t) => {
  const db = openDatabase(tempDir(t))
  t.teardown(() => db.close())
  const repos = createRepositories(db)
  for (const n of [1, 2]) {
    await repos.artifacts.record({ sha256: n.toString(16).repeat(64), md5: 'a'.repeat(32), size: 1000 + n })
    await repos.releases.insert(release(n))
  }
  // The per-version counts the device triggers keep: 90 unproven devices claim v1, 10 proven ones run v2.
  const count = db.prepare('INSERT INTO fleet_versions (board, channel, version, sequence, devices, verified) VALUES (?, ?, ?, ?, ?, ?)')
  count.run('esp32cam', 'stable', 'v1', 1, 90, 0)
  count.run('esp32cam', 'stable', 'v2', 2, 10, 10)

  t.same((await repos.deltaPatches.popularBases('esp32cam', POPULAR_BASE_SHARE, false)).sort(), [release(1).sha256, release(2).sha256].sort(), 'credentials off: every device counts')
  t.same(await repos.deltaPatches.popularBases('esp32cam', POPULAR_BASE_SHARE, true), [release(2).sha256], 'credentials on: the unproven claims choose nothing')
})
