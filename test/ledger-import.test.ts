import crypto from 'node:crypto'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { databasePath } from '../src/db/open'
import { LEFT_OUT_REASONS } from '../src/release/firmware-repo'
import { buildEspImage } from './support/esp-image-builder'
import { NO_AHEAD_DELTAS } from './support/env'
import { makeFirmwareRepo, type FirmwareRepo } from './support/git-repo'
import { httpUpdate } from './support/http-update'
import { publishRelease } from './support/publish'
import { TestClock } from './support/clock'
import { cli, createToken, startServer, tempDir, type TestContext } from './support/server'

// The field fleet's releases before ota-gate: prod-<bee> tags on production, sequences 1 to 5,
// and one tag (prod-honey) made on main but never promoted.
const BEES = ['mason', 'leafcutter', 'bumble', 'carpenter', 'mining']

function beeRepo(t: TestContext): FirmwareRepo {
  const repo = makeFirmwareRepo(t)
  BEES.forEach((bee, i) => {
    repo.releaseCommit(bee, i + 1)
    repo.promote()
    repo.tag(`prod-${bee}`)
    repo.commit({ 'ESP32-CAM/main.cpp': `// work after ${bee}\n` }, `work after ${bee}`)
  })
  repo.releaseCommit('honey', 6)
  repo.tag('prod-honey')
  return repo
}

interface Row {
  board: string
  channel: string
  version: string
  sequence: number
  tag: string
  commit_sha: string
  sha256: string | null
  size: number | null
  md5: string | null
  signature: string | null
  key_id: string | null
  provenance: string
  created_at: number
}

function query<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).all(...params) as T[]
  } finally {
    db.close()
  }
}

const releaseRows = (dataDir: string) => query<Row>(dataDir, 'SELECT * FROM releases ORDER BY sequence')

// Read-only for every test that uses it, so made once.
const bees = beeRepo(t)

const importArgs = (repo: FirmwareRepo, ...more: string[]) => ['ledger', 'import', '--board', 'esp32cam', '--repo', repo.dir, ...more]

t.test('ledger import records the five releases on production, once; --dry-run writes nothing', async (t) => {
  const repo = bees
  // The history is written without a git process per commit (support/git-objects.ts): git finds it sound.
  t.equal(repo.git('fsck', '--strict', '--no-dangling'), '', 'git fsck finds nothing wrong')
  t.equal(repo.git('status', '--porcelain', '--untracked-files=all'), '', 'the working tree is clean')
  const dataDir = tempDir(t)
  const env = { OTA_DATA_DIR: dataDir }

  const dry = await cli(importArgs(repo, '--dry-run'), env)
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /would import 5 historical release/)
  for (const bee of BEES) t.match(dry.stdout, new RegExp(`prod-${bee}\\s+${bee}\\s+\\d\\s+[0-9a-f]{12}\\s+would_import`))
  t.notMatch(dry.stdout, /prod-honey\s+honey/, 'the tag only on main is not imported')
  t.match(dry.stdout, /left out \(1\):\nTAG\s+COMMIT\s+REASON\s+WHY\nprod-honey\s+[0-9a-f]{12}\s+not_on_branch\s+not on production: never released/, 'but said to be left out, and why')
  t.same(releaseRows(dataDir), [], '--dry-run writes nothing')

  const first = await cli(importArgs(repo), env)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /imported 5 historical release\(s\) of board esp32cam; 0 already recorded/)
  const rows = releaseRows(dataDir)
  t.same(
    rows.map((r) => [r.version, r.sequence, r.tag, r.commit_sha]),
    BEES.map((bee, i) => [bee, i + 1, `prod-${bee}`, repo.git('rev-parse', `prod-${bee}^{commit}`)])
  )
  for (const r of rows) {
    t.same(
      [r.board, r.channel, r.provenance, r.sha256, r.size, r.md5, r.signature, r.key_id],
      ['esp32cam', 'stable', 'imported', null, null, null, null, null],
      `${r.version} is historical: no binary, no signature`
    )
  }

  const again = await cli(importArgs(repo, '--json'), env)
  t.equal(again.code, 0, again.stderr)
  const result = JSON.parse(again.stdout) as { imported: number; skipped: number; releases: Array<{ status: string }> }
  t.equal(result.imported, 0)
  t.equal(result.skipped, 5)
  t.same(new Set(result.releases.map((r) => r.status)), new Set(['already_imported']))
  t.same(releaseRows(dataDir), rows, 'running it again changes nothing')
})

t.test('the version and sequence come from the files at each tagged commit, or the tag name', async (t) => {
  const repo = makeFirmwareRepo(t)
  repo.commit({ 'fw/SEQ': '7\n' }, 'sequence only, in another file')
  repo.promote()
  repo.tag('prod-osmia')
  repo.commit({ 'fw/SEQ': '8\n', 'fw/NAME': '  halictus \n' }, 'named release')
  repo.promote()
  repo.tag('prod-whatever')
  const dataDir = tempDir(t)
  const r = await cli(importArgs(repo, '--sequence-file', 'fw/SEQ', '--version-file', 'fw/NAME'), { OTA_DATA_DIR: dataDir })
  t.equal(r.code, 0, r.stderr)
  t.same(
    releaseRows(dataDir).map((row) => [row.tag, row.version, row.sequence]),
    [
      ['prod-osmia', 'osmia', 7],
      ['prod-whatever', 'halictus', 8],
    ]
  )

  // A release promoted by `git push origin <sha>:production` is on origin/production only.
  repo.commit({ 'fw/SEQ': '9\n', 'fw/NAME': 'andrena\n' }, 'pushed release')
  repo.tag('prod-andrena')
  repo.git('update-ref', 'refs/remotes/origin/production', 'HEAD')
  const withRemote = tempDir(t)
  t.equal((await cli(importArgs(repo, '--sequence-file', 'fw/SEQ', '--version-file', 'fw/NAME'), { OTA_DATA_DIR: withRemote })).code, 0)
  t.same(releaseRows(withRemote).map((row) => row.version), ['osmia', 'halictus', 'andrena'])

  const noBranch = await cli(importArgs(repo, '--branch', 'release'), { OTA_DATA_DIR: tempDir(t) })
  t.equal(noBranch.code, 1)
  t.match(noBranch.stderr, /has no branch release \(nor origin\/release\): fetch it first/)

  const noSequence = await cli(importArgs(repo), { OTA_DATA_DIR: tempDir(t) })
  t.equal(noSequence.code, 1, 'nothing left to import')
  t.match(noSequence.stdout, /prod-osmia\s+[0-9a-f]{12}\s+no_sequence\s+[0-9a-f]{12} has no ESP32-CAM\/SEQUENCE: give its sequence with --sequence prod-osmia=N/)
  t.match(noSequence.stderr, /can be imported \(3 left out, listed below\)/)
  const given = tempDir(t)
  const withSequence = await cli(importArgs(repo, '--version-file', 'fw/NAME', '--sequence', 'prod-osmia=7', '--sequence', 'prod-whatever=8', '--sequence', 'prod-andrena=9'), { OTA_DATA_DIR: given })
  t.equal(withSequence.code, 0, withSequence.stderr)
  t.same(releaseRows(given).map((row) => [row.tag, row.sequence]), [['prod-osmia', 7], ['prod-whatever', 8], ['prod-andrena', 9]], '--sequence TAG=N gives a tag its sequence')
  const typo = await cli(importArgs(repo, '--sequence', 'prod-osmiaa=7'), { OTA_DATA_DIR: tempDir(t) })
  t.equal(typo.code, 1)
  t.match(typo.stderr, /there is no tag prod-osmiaa matching prod-\* .*: check the name given to --skip or --sequence/)
  const form = await cli(importArgs(repo, '--sequence', 'prod-osmia'), { OTA_DATA_DIR: tempDir(t) })
  t.equal(form.code, 2)
  t.match(form.stderr, /--sequence takes TAG=N/)
})

/** A repository whose history has one problem; each (version, sequence) is a promoted, tagged release. */
function historyRepo(t: TestContext, releases: Array<[tag: string, version: string, sequence: number]>): FirmwareRepo {
  const repo = makeFirmwareRepo(t)
  for (const [tag, version, sequence] of releases) {
    repo.releaseCommit(version, sequence)
    repo.commit({ 'ESP32-CAM/notes.txt': `${tag}\n` }, `notes for ${tag}`)
    repo.promote()
    repo.tag(tag)
  }
  return repo
}

t.test('a history with conflicts is refused whole, each problem explained', async (t) => {
  const cases: Array<{ name: string; releases: Array<[string, string, number]>; message: RegExp }> = [
    {
      name: 'two tags with one sequence',
      releases: [['prod-mason', 'mason', 1], ['prod-leafcutter', 'leafcutter', 2], ['prod-bumble', 'bumble', 2]],
      message: /tags prod-leafcutter, prod-bumble all have sequence 2: each release needs its own sequence; give the one it really had with --sequence prod-bumble=N, or leave it out with --skip prod-bumble/,
    },
    {
      name: 'a sequence that goes down along production',
      releases: [['prod-mason', 'mason', 1], ['prod-leafcutter', 'leafcutter', 3], ['prod-bumble', 'bumble', 2]],
      message: /sequence goes down along the release branch: prod-bumble \(sequence 2\) comes after prod-leafcutter \(sequence 3\)/,
    },
    {
      name: 'a version used twice',
      releases: [['prod-mason', 'mason', 1], ['prod-mason-again', 'mason', 2]],
      message: /version mason is used by tags prod-mason, prod-mason-again: a codename is never reused; leave the one devices never ran out with --skip prod-mason-again/,
    },
  ]
  for (const c of cases) {
    const dataDir = tempDir(t)
    const r = await cli(importArgs(historyRepo(t, c.releases)), { OTA_DATA_DIR: dataDir })
    t.equal(r.code, 1, `${c.name}: refused`)
    t.match(r.stderr, /nothing was imported; each problem below says how to get past it \(--skip TAG leaves a tag out, --sequence TAG=N corrects its sequence/, c.name)
    t.match(r.stderr, c.message, c.name)
    t.same(releaseRows(dataDir), [], `${c.name}: nothing written`)
  }

  // A history that disagrees with releases already recorded: nothing of it is written, not even
  // its releases that would not conflict.
  const dataDir = tempDir(t)
  t.equal((await cli(importArgs(bees), { OTA_DATA_DIR: dataDir })).code, 0)
  const before = releaseRows(dataDir)
  const other = historyRepo(t, [['prod-mason', 'mason', 9], ['prod-orchard', 'orchard', 10]])
  const r = await cli(importArgs(other), { OTA_DATA_DIR: dataDir })
  t.equal(r.code, 1)
  t.match(r.stderr, /prod-mason: version mason, tag prod-mason already belong\(s\) to release mason \(sequence 1, tag prod-mason, commit [0-9a-f]{12}\)/)
  t.same(releaseRows(dataDir), before, 'all or nothing: orchard is not recorded either')
})

t.test('a way out of a bad history: --skip TAG and --sequence TAG=N, and every tag left out is listed with its reason', async (t) => {
  // The two incidents of the old process: a sequence given twice, a codename used twice.
  const repo = historyRepo(t, [
    ['prod-mason', 'mason', 1],
    ['prod-leafcutter', 'leafcutter', 2],
    ['prod-bumble', 'bumble', 2],
    ['prod-carpenter', 'carpenter', 3],
    ['prod-carpenter-again', 'carpenter', 4],
  ])
  // A second tag on the same commit names the same release: recorded once.
  repo.tag('prod-leafcutter-v2', 'prod-leafcutter^{commit}')
  const dataDir = tempDir(t)
  const refused = await cli(importArgs(repo), { OTA_DATA_DIR: dataDir })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /--sequence prod-bumble=N, or leave it out with --skip prod-bumble/)
  t.match(refused.stderr, /--skip prod-carpenter-again\b/)
  t.same(releaseRows(dataDir), [], 'nothing written while refused')

  const r = await cli(importArgs(repo, '--sequence', 'prod-bumble=3', '--sequence', 'prod-carpenter=4', '--skip', 'prod-carpenter-again', '--json'), {
    OTA_DATA_DIR: dataDir,
  })
  t.equal(r.code, 0, r.stderr)
  const body = JSON.parse(r.stdout) as { imported: number; left_out: Array<{ tag: string; reason: string; message: string }> }
  t.equal(body.imported, 4)
  t.same(
    body.left_out.map((l) => [l.tag, l.reason]),
    [['prod-leafcutter-v2', 'duplicate'], ['prod-carpenter-again', 'skipped']],
    'the skipped tag and the twin are reported'
  )
  t.same(
    releaseRows(dataDir).map((row) => [row.tag, row.version, row.sequence]),
    [['prod-mason', 'mason', 1], ['prod-leafcutter', 'leafcutter', 2], ['prod-bumble', 'bumble', 3], ['prod-carpenter', 'carpenter', 4]]
  )
  const text = await cli(importArgs(repo, '--sequence', 'prod-bumble=3', '--sequence', 'prod-carpenter=4', '--skip', 'prod-carpenter-again'), { OTA_DATA_DIR: dataDir })
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /imported 0 historical release\(s\) of board esp32cam; 4 already recorded/, 'running it again changes nothing')
  t.match(text.stdout, /^prod-carpenter-again\s+[0-9a-f]{12}\s+skipped\s+left out with --skip$/m)
  t.match(text.stdout, /^prod-leafcutter-v2\s+[0-9a-f]{12}\s+duplicate\s+names the same release as prod-leafcutter /m)
})

t.test('after the import, publishing and devices respect the history', async (t) => {
  const dataDir = tempDir(t)
  t.equal((await cli(importArgs(bees), { OTA_DATA_DIR: dataDir })).code, 0)
  // Devices that have not enrolled are taken at their word (device credentials off), as before credentials existed.
  const server = await startServer(t, { OTA_DEVICE_AUTH: 'off' }, { dataDir: dataDir })

  const noManifest = await fetch(`${server.url}/v1/manifest?board=esp32cam&device=aabbccddee01&version=carpenter&sequence=4`)
  t.equal(noManifest.status, 404, 'historical releases are never offered: they have no binary')
  t.equal(((await noManifest.json()) as { error: string }).error, 'no_release')
  t.equal((await fetch(`${server.url}/firmware.json`)).status, 404, 'nor to the field fleet')

  await t.rejects(publishRelease(server, { version: 'sweat', sequence: 5 }), /409.*sequence_not_increasing/, 'sequence 5 is taken by history')
  await t.rejects(publishRelease(server, { version: 'mason', sequence: 6, tag: 'prod-mason-2' }), /409.*version_exists/, 'an imported codename is not reused')

  const sweat = await publishRelease(server, { version: 'sweat', sequence: 6 })
  t.equal(sweat.release.sequence, 6)

  // A device in the field already calls its build "drone": a release of that name would never reach it.
  const poll = await fetch(`${server.url}/v1/manifest?board=esp32cam&device=aabbccddee02&version=drone&sequence=3`)
  t.equal(poll.status, 200)
  await t.rejects(publishRelease(server, { version: 'drone', sequence: 7 }), /409.*version_in_field.*1 device/)

  // An Arduino device running an imported release is known to run its sequence and gets the newest.
  const sketch = { mac: 'AA:BB:CC:DD:EE:03', version: 'leafcutter', md5: '0'.repeat(32) }
  const update = await httpUpdate(server, '/v1/arduino/esp32cam', sketch)
  t.equal(update.status, 200)
  t.equal(update.headers['x-md5'], crypto.createHash('md5').update(sweat.image).digest('hex'))
  t.ok(update.body.equals(sweat.image), 'the newest release is served')
  const device = query(dataDir, 'SELECT version, sequence FROM devices WHERE device = ?', 'aabbccddee03')
  t.same(device, [{ version: 'leafcutter', sequence: 2 }], 'the device row carries the imported sequence')
  const operator = await createToken(dataDir, 'operator')
  const fleet = await fetch(`${server.url}/v1/fleet/versions?board=esp32cam`, { headers: { authorization: `Bearer ${operator}` } })
  const { versions } = (await fleet.json()) as { versions: Array<{ version: string; sequence: number; devices: number }> }
  t.match(
    versions.find((v) => v.version === 'leafcutter'),
    { sequence: 2, devices: 1 },
    'the fleet view shows the imported version with its sequence'
  )
  const current = await httpUpdate(server, '/v1/arduino/esp32cam', { ...sketch, mac: 'AA:BB:CC:DD:EE:04', version: 'sweat' })
  t.equal(current.status, 304)
})

t.test('POST /v1/releases/import: admin only; with OTA_GIT_DIR each tag is checked in the repository', async (t) => {
  const repo = bees
  const server = await startServer(t, { OTA_GIT_DIR: repo.dir })
  const admin = await createToken(server.dataDir, 'admin')
  const operator = await createToken(server.dataDir, 'operator')
  const viaApi = (token: string, ...more: string[]) => cli(importArgs(repo, '--server', server.url, '--token', token, ...more), {})

  const fromEnv = await cli(importArgs(repo, '--dry-run', '--json'), { OTA_SERVER: server.url, OTA_TOKEN: operator, OTA_DATA_DIR: tempDir(t) })
  t.match(fromEnv.stderr, /403 forbidden/, 'OTA_SERVER and OTA_TOKEN name the server as --server and --token do, not the data folder')

  const forbidden = await viaApi(operator)
  t.equal(forbidden.code, 1)
  t.match(forbidden.stderr, /this needs role admin; the token "operator" has role operator: create one with `ota-gate token create --role admin --name NAME` .*\(403 forbidden\)/)

  const dry = await viaApi(admin, '--dry-run', '--json')
  t.equal(dry.code, 0, dry.stderr)
  t.equal((JSON.parse(dry.stdout) as { imported: number }).imported, 5)
  t.same(releaseRows(server.dataDir), [])

  const done = await viaApi(admin)
  t.equal(done.code, 0, done.stderr)
  t.match(done.stdout, /imported 5 historical release/)
  t.equal(releaseRows(server.dataDir).length, 5)
  const again = await viaApi(admin)
  t.match(again.stdout, /imported 0 historical release\(s\) of board esp32cam; 5 already recorded/)

  const listed = await cli(['release', 'list', '--board', 'esp32cam', '--server', server.url, '--token', operator], {})
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, /esp32cam\s+stable\s+mining\s+5\s+imported\s+-\s+-\s+prod-mining/)

  // The server checks claims against its own repository: a tag that names another commit, or a
  // commit only on main, is refused and nothing is written.
  const post = (releases: unknown[]) =>
    fetch(`${server.url}/v1/releases/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ board: 'esp32cam', releases }),
    })
  const honey = repo.git('rev-parse', 'prod-honey^{commit}')
  const forged = await post([
    { tag: 'prod-osmia', commit: repo.git('rev-parse', 'prod-mason^{commit}'), version: 'osmia', sequence: 20 },
    { tag: 'prod-honey', commit: honey, version: 'honey', sequence: 21 },
  ])
  t.equal(forged.status, 422)
  const body = (await forged.json()) as { error: string; message: string }
  t.equal(body.error, 'provenance_failed')
  t.match(body.message, /prod-osmia: tag prod-osmia does not exist in the firmware repository/)
  t.match(body.message, /prod-honey: commit [0-9a-f]{7}… is not on production/)
  t.equal(releaseRows(server.dataDir).length, 5)

  const unknownBoard = await fetch(`${server.url}/v1/releases/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ board: 'nosuch', releases: [{ tag: 'prod-mason', commit: repo.git('rev-parse', 'prod-mason^{commit}'), version: 'mason', sequence: 1 }] }),
  })
  t.equal(unknownBoard.status, 404)
  t.equal(((await unknownBoard.json()) as { error: string }).error, 'board_not_found')
})

t.test('without OTA_GIT_DIR the route checks forms and the tag pattern only', async (t) => {
  const server = await startServer(t)
  const admin = await createToken(server.dataDir, 'admin')
  const commit = crypto.createHash('sha1').update('x').digest('hex')
  const res = await fetch(`${server.url}/v1/releases/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ board: 'esp32cam', releases: [{ tag: 'v1.0', commit, version: 'mason', sequence: 1 }] }),
  })
  t.equal(res.status, 422)
  t.match(((await res.json()) as { message: string }).message, /v1\.0: tag "v1\.0" does not match the release tag pattern "prod-\*"/)
  const ok = await fetch(`${server.url}/v1/releases/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ board: 'esp32cam', releases: [{ tag: 'prod-mason', commit, version: 'mason', sequence: 1 }] }),
  })
  t.equal(ok.status, 200)
  t.match(await ok.json(), { imported: 1, releases: [{ tag: 'prod-mason', status: 'imported' }] })
})

t.test('version_in_field counts only devices seen within the stale window', async (t) => {
  const clock = new TestClock()
  const server = await startServer(t, { ...NO_AHEAD_DELTAS, OTA_STALE_AFTER: '2s', OTA_DEVICE_AUTH: 'off' }, { clock })
  await publishRelease(server, { version: 'mason', sequence: 1 })
  const poll = await fetch(`${server.url}/v1/manifest?board=esp32cam&device=aabbccddee09&version=drone&sequence=1`)
  t.equal(poll.status, 200)
  await t.rejects(publishRelease(server, { version: 'drone', sequence: 2 }), /409.*version_in_field.*1 device/, 'a device seen just now counts')
  clock.advance(2000)
  await t.rejects(publishRelease(server, { version: 'drone', sequence: 2 }), /409.*version_in_field/, 'up to the end of the window it still counts')
  clock.advance(1)
  const drone = await publishRelease(server, { version: 'drone', sequence: 2 })
  t.equal(drone.release.version, 'drone', 'a device silent for longer than the window no longer blocks the name')
})

t.test('docs/migration.md says what to do for every reason a tag is left out and every refusal', async (t) => {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'migration.md'), 'utf8')
  for (const reason of LEFT_OUT_REASONS) t.match(doc, new RegExp(`^\\| \`${reason}\` \\| .+ \\| .+ \\|$`, 'm'), `${reason} has a row: what it means, what to do`)
  for (const refusal of [
    'all have sequence',
    'sequence goes down along the release branch',
    'is used by tags',
    'already belong(s) to release',
    'there is no tag T matching',
    'is not the binary --current-json describes',
    '"allow_downgrade": true',
    'is newer than firmware.json',
  ]) {
    t.ok(doc.includes(refusal), `the refusal "${refusal}" is explained`)
  }
})

t.test('--current-json/--current-bin through the server: attested without a tag, checked against the JSON, once', async (t) => {
  const server = await startServer(t)
  const admin = await createToken(server.dataDir, 'admin')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: admin }
  const dir = tempDir(t)
  const bin = buildEspImage({ version: 'osmia', seed: 9, size: 120_000 })
  const md5 = crypto.createHash('md5').update(bin).digest('hex')
  const json = `{"version":"osmia","sequence":7,"app_md5":"${md5}","app_size":${bin.length},"allow_downgrade":false}`
  fs.writeFileSync(path.join(dir, 'firmware.json'), json)
  fs.writeFileSync(path.join(dir, 'firmware.app.bin'), bin)
  fs.writeFileSync(path.join(dir, 'other.bin'), buildEspImage({ version: 'osmia', seed: 10, size: 120_000 }))
  const args = ['ledger', 'import', '--board', 'esp32cam', '--current-json', 'firmware.json']

  const mismatch = await cli([...args, '--current-bin', 'other.bin'], env, dir)
  t.equal(mismatch.code, 1)
  t.match(mismatch.stderr, new RegExp(`--current-bin \\(MD5 [0-9a-f]{32}, ${bin.length} bytes\\) is not the binary --current-json describes \\(app_md5 ${md5}`))
  const half = await cli(args, env, dir)
  t.equal(half.code, 2)
  t.match(half.stderr, /give both --current-json firmware.json and --current-bin firmware.app.bin/)

  const dry = await cli([...args, '--current-bin', 'firmware.app.bin', '--dry-run'], env, dir)
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /would import the release served today, osmia \(sequence 7\) .*provenance attested \(no release tag of this version and sequence was found\)/)
  t.equal((await fetch(`${server.url}/firmware.json`)).status, 404, 'a dry run serves nothing')

  const r = await cli([...args, '--current-bin', 'firmware.app.bin'], env, dir)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^imported the release served today, osmia \(sequence 7\)/m)
  t.match(r.stdout, `/firmware.json answers from now on: ${json}`)
  const served = await fetch(`${server.url}/firmware.json`)
  t.equal(await served.text(), json, 'the same bytes as the static file')
  const binary = Buffer.from(await (await fetch(`${server.url}/firmware.app.bin`)).arrayBuffer())
  t.same(binary, bin)
  const rows = releaseRows(server.dataDir)
  t.match(rows, [{ version: 'osmia', sequence: 7, provenance: 'attested', tag: 'untagged-osmia', commit_sha: '0'.repeat(40), md5, signature: null }])

  const again = await cli([...args, '--current-bin', 'firmware.app.bin', '--json'], env, dir)
  t.equal(again.code, 0, again.stderr)
  t.match(JSON.parse(again.stdout), { current: { status: 'already_imported' } })
  t.equal(releaseRows(server.dataDir).length, 1, 'running it again changes nothing')
})
