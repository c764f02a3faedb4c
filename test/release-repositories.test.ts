import t from 'tap'
import { ReleaseConflict, releaseView, type NewRelease } from '../src/repositories/releases'
import { PUBLISHED, releaseRow as release, withArtifacts } from './support/release-rows'
import { ReleaseKeyExists } from '../src/repositories/release-keys'
import { generateKeyPair } from '../src/release/keys'
import { eachBackend } from './support/backends'

const hex = (c: string, n: number) => c.repeat(n)


eachBackend(t, 'releases: insert, get, list newest first, latest with a binary, maxSequence', async (t, backend) => {
  const { repos } = await backend.open(t)
  await withArtifacts(repos, 1, 2, 3)
  t.equal(await repos.releases.maxSequence('esp32cam'), null)
  await repos.releases.insert(release(1), PUBLISHED)
  await repos.releases.insert(release(2, { channel: 'beta' }), PUBLISHED)
  const third = await repos.releases.insert(release(3), PUBLISHED)
  await repos.releases.insert(release(4, { sha256: null, size: null, md5: null, provenance: 'imported' }), PUBLISHED)
  t.equal(await repos.releases.maxSequence('esp32cam'), 4)
  t.same((await repos.releases.list()).map((r) => r.sequence), [4, 3, 2, 1])
  t.same((await repos.releases.list({ channel: 'stable' })).map((r) => r.sequence), [4, 3, 1])
  t.same(await repos.releases.list({ board: 'other' }), [])
  t.equal((await repos.releases.latest('esp32cam', 'stable'))?.version, 'v3', 'the imported release without binary is skipped')
  t.equal((await repos.releases.latest('esp32cam', 'beta'))?.version, 'v2')
  t.equal(await repos.releases.latest('esp32cam', 'nightly'), undefined)
  t.same(await repos.releases.getById(third.id), third)
  t.same(await repos.releases.get('esp32cam', 'v3'), third)

  const view = releaseView(third)
  t.equal(view.commit, hex('c', 40))
  t.equal(view.has_binary, true)
  t.equal(view.created_at, new Date(third.created_at).toISOString())
  t.same(view.image, { chip: 'esp32', project_name: 'cam', app_version: 'v3', idf_version: 'v5.1', secure_version: 0, build_date: 'Jan  1 2026', build_time: '12:00:00' })
  t.equal(releaseView((await repos.releases.get('esp32cam', 'v4'))!).has_binary, false)
})

eachBackend(t, 'releases: each conflict is typed and says what is in the way', async (t, backend) => {
  const { sql, repos } = await backend.open(t)
  await withArtifacts(repos, 5, 6, 7)
  await repos.releases.insert(release(5), PUBLISHED)
  const refused = async (r: NewRelease, code: string, message: RegExp) => {
    await t.rejects(repos.releases.insert(r, PUBLISHED), ReleaseConflict)
    await repos.releases.insert(r, PUBLISHED).catch((err: ReleaseConflict) => {
      t.equal(err.code, code)
      t.match(err.message, message)
    })
  }
  await refused(release(5, { version: 'x', tag: 'prod-x', sha256: hex('6', 64) }), 'sequence_not_increasing', /not above 5.*sequence 6 or higher/)
  await refused(release(6, { version: 'v5', sha256: hex('6', 64) }), 'version_exists', /already has a release named v5 \(sequence 5\)/)
  await refused(release(6, { tag: 'prod-v5', sha256: hex('6', 64) }), 'tag_exists', /tag prod-v5 is already release v5/)
  await refused(release(6, { sha256: hex('5', 64) }), 'binary_exists', /already release v5/)
  // Another board has its own sequences, versions, tags.
  await sql("INSERT INTO boards (name, chip, chip_id, slot_size, created_at) VALUES ('s2', 'esp32s2', 2, 100000, 0)")
  await repos.releases.insert(release(1, { board: 's2', version: 'v5', tag: 'prod-v5', sha256: hex('7', 64) }), PUBLISHED)
  // A version devices already report, that is no release: they would never update to it.
  await sql("INSERT INTO devices (device, board, channel, version, sequence, first_seen, last_seen) VALUES ('aabbccddeeff', 'esp32cam', 'stable', 'handmade', 0, 0, 0)")
  await refused(release(6, { version: 'handmade', sha256: hex('6', 64) }), 'version_in_field', /1 device\(s\).*handmade/)
  t.equal(await repos.releases.maxSequence('esp32cam'), 5, 'nothing refused was written')
})

eachBackend(t, 'release keys: trust, list, get, retire; a known key is not trusted twice', async (t, backend) => {
  const { repos } = await backend.open(t)
  const a = generateKeyPair()
  const b = generateKeyPair()
  await repos.releaseKeys.trust({ key_id: a.keyId, name: 'laptop', public_key_pem: a.publicKeyPem })
  await repos.releaseKeys.trust({ key_id: b.keyId, name: 'ci', public_key_pem: b.publicKeyPem })
  await t.rejects(repos.releaseKeys.trust({ key_id: a.keyId, name: 'again', public_key_pem: a.publicKeyPem }), ReleaseKeyExists)
  t.same((await repos.releaseKeys.list()).map((k) => k.name).sort(), ['ci', 'laptop'])
  const retired = await repos.releaseKeys.retire(a.keyId)
  t.type(retired?.retired_at, 'number')
  t.equal((await repos.releaseKeys.retire(a.keyId))?.retired_at, retired?.retired_at, 'retiring twice keeps the first time')
  t.equal(await repos.releaseKeys.retire('0000000000000000'), undefined)
  t.equal((await repos.releaseKeys.get(b.keyId))?.retired_at, null)
  await t.rejects(repos.releaseKeys.trust({ key_id: a.keyId, name: 'back', public_key_pem: a.publicKeyPem }), /was retired .* make a new key/)
})
