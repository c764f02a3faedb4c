import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { progressBar } from '../src/cli/progress'
import type { ReleaseView } from '../src/schemas/release'
import { buildEspImage } from './support/esp-image-builder'
import { NO_AHEAD_DELTAS } from './support/env'
import { makeFirmwareRepo, type FirmwareRepo } from './support/git-repo'
import { cli, createToken, startServer, tempDir, type CliResult, type RunningServer, type TestContext } from './support/server'

// `release publish` run the way a release manager runs it: in a real firmware repository (main,
// production, prod-* tags, ESP32-CAM/VERSION and SEQUENCE), against a real server on loopback,
// with a release key made by `keys generate` and trusted by `keys trust`.

interface Setup {
  repo: FirmwareRepo
  server: RunningServer
  token: string
  keyFile: string
  keyId: string
  /** writes an ESP32 image carrying `version` outside the repository; returns its path */
  image(version: string, seed?: number): string
  publish(args?: string[], options?: { cwd?: string; server?: string }): Promise<CliResult>
}

async function setup(t: TestContext, options: { gitDir?: boolean } = {}): Promise<Setup> {
  const repo = makeFirmwareRepo(t)
  repo.releaseCommit('mason', 1)
  repo.promote()
  repo.tag('prod-mason')
  const server = await startServer(t, { ...NO_AHEAD_DELTAS, ...(options.gitDir ? { OTA_GIT_DIR: repo.dir } : {}) })
  const work = tempDir(t, 'ota-gate-release-')
  const keyFile = path.join(work, 'release.pem')
  const generated = await cli(['keys', 'generate', '--out', keyFile], {})
  if (generated.code !== 0) throw new Error(generated.stderr)
  const trusted = await cli(['keys', 'trust', `${keyFile}.pub`, '--name', 'release manager'], { OTA_DATA_DIR: server.dataDir })
  if (trusted.code !== 0) throw new Error(trusted.stderr)
  const token = await createToken(server.dataDir, 'releaser')
  const image = (version: string, seed = 1) => {
    const file = path.join(work, `${version}-${seed}.bin`)
    fs.writeFileSync(file, buildEspImage({ version, seed, size: 200_000 }))
    return file
  }
  const defaultImage = image('mason')
  return {
    repo,
    server,
    token,
    keyFile,
    keyId: generated.lastLine,
    image,
    publish: (args = [], o = {}) =>
      cli(
        ['release', 'publish', '--board', 'esp32cam', '--key', keyFile, '--server', o.server ?? server.url, '--token', token,
          ...(args.includes('--file') ? [] : ['--file', defaultImage]), ...args],
        {},
        o.cwd ?? repo.dir
      ),
  }
}

/** Every file under the artifact store, to show a refused publish stored nothing. */
function storedArtifacts(server: RunningServer): string[] {
  const root = path.join(server.dataDir, 'artifacts')
  if (!fs.existsSync(root)) return []
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort()
}

async function releasesOf(s: Setup): Promise<ReleaseView[]> {
  const res = await fetch(`${s.server.url}/v1/releases?board=esp32cam`, { headers: { authorization: `Bearer ${s.token}` } })
  return ((await res.json()) as { releases: ReleaseView[] }).releases
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')

t.test('one command publishes the build of a prod-* tag on production; provenance verified with OTA_GIT_DIR', async (t) => {
  const s = await setup(t, { gitDir: true })
  const file = s.image('mason')
  const r = await s.publish(['--file', file, '--notes', 'first through ota-gate'])
  t.equal(r.code, 0, r.stderr)
  const digest = sha256(file)
  const commit = s.repo.git('rev-parse', 'HEAD')
  t.match(r.stdout, /^published esp32cam mason/)
  t.match(r.stdout, /board:\s+esp32cam/)
  t.match(r.stdout, /version:\s+mason/)
  t.match(r.stdout, /sequence:\s+1\n/)
  t.match(r.stdout, new RegExp(`sha256:\\s+${digest}`))
  t.match(r.stdout, new RegExp(`url:\\s+${s.server.url}/v1/firmware/${digest}\\.bin`))
  t.match(r.stdout, new RegExp(`provenance:\\s+verified \\(tag prod-mason, commit ${commit}\\)`))
  t.notMatch(r.stderr, /uploading|%/, 'no progress bar without a terminal')
  t.match(r.stderr, /^version mason: from ESP32-CAM\/VERSION at prod-mason \([0-9a-f]{12}\)$/m, 'says where the version came from')
  t.match(r.stderr, /^sequence 1: from ESP32-CAM\/SEQUENCE at prod-mason \([0-9a-f]{12}\)$/m, 'and the sequence')
  t.notMatch(r.stderr, /warning/, 'the image carries the same version: no warning')

  const [release] = await releasesOf(s)
  t.match(release, { version: 'mason', sequence: 1, sha256: digest, tag: 'prod-mason', commit, provenance: 'verified', key_id: s.keyId, notes: 'first through ota-gate' })

  const verified = await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--json'], { OTA_SERVER: s.server.url, OTA_TOKEN: s.token })
  t.equal(verified.code, 0, verified.stderr)
  const report = JSON.parse(verified.stdout) as Record<string, unknown>
  const { chip, project_name, app_version, idf_version, secure_version, build_date, build_time } = report
  t.same(
    { chip, project_name, app_version, idf_version, secure_version, build_date, build_time },
    release.image,
    'release verify shows the image facts the server recorded'
  )

  const listed = await cli(['release', 'list', '--server', s.server.url, '--token', s.token], {})
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, new RegExp(`esp32cam\\s+stable\\s+mason\\s+1\\s+verified\\s+${fs.statSync(file).size}\\s+${digest.slice(0, 12)}\\s+prod-mason`))
  const listedJson = await cli(['release', 'list', '--board', 'esp32cam', '--channel', 'beta', '--json'], { OTA_SERVER: s.server.url, OTA_TOKEN: s.token })
  t.same(JSON.parse(listedJson.stdout), { releases: [] })
})

t.test('without OTA_GIT_DIR the release is attested; --json, --repo, version and sequence from flags or files', async (t) => {
  const s = await setup(t)
  const outside = tempDir(t)
  const r = await s.publish(['--repo', s.repo.dir, '--json'], { cwd: outside })
  t.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { status: string; upload: string; url: string; release: ReleaseView }
  t.match(out, { status: 'published', upload: 'stored', release: { version: 'mason', sequence: 1, provenance: 'attested', channel: 'stable' } })

  // No version file at the tag: the version is the tag's name after prod-; the sequence from a flag.
  s.repo.commit({ 'README.md': 'no more label files\n' }, 'drop label files')
  s.repo.git('rm', '--quiet', 'ESP32-CAM/VERSION', 'ESP32-CAM/SEQUENCE')
  s.repo.git('commit', '--quiet', '-m', 'labels elsewhere')
  s.repo.promote()
  s.repo.tag('prod-leafcutter')
  const noSequence = await s.publish(['--file', s.image('leafcutter')])
  t.equal(noSequence.code, 1)
  t.match(noSequence.stderr, /no sequence: ESP32-CAM\/SEQUENCE does not exist at prod-leafcutter; give --sequence N or --sequence-file PATH/)
  const named = await s.publish(['--file', s.image('leafcutter'), '--sequence', ' 2 ', '--channel', 'beta'])
  t.equal(named.code, 0, named.stderr)
  t.match((await releasesOf(s))[0], { version: 'leafcutter', sequence: 2, channel: 'beta' })

  s.repo.commit({ 'build/seq.txt': '3\n', 'build/label': 'bumble\n' }, 'labels in build/')
  s.repo.promote()
  s.repo.tag('prod-b3')
  const fromFiles = await s.publish(['--file', s.image('bumble'), '--version-file', 'build/label', '--sequence-file', 'build/seq.txt'])
  t.equal(fromFiles.code, 0, fromFiles.stderr)
  t.match((await releasesOf(s))[0], { version: 'bumble', sequence: 3, tag: 'prod-b3' })

  // Promoted with `git push origin <sha>:production`: only origin/production has it, and that counts.
  s.repo.commit({ 'build/seq.txt': '4\n', 'build/label': 'osmia\n' }, 'osmia')
  s.repo.tag('prod-osmia')
  s.repo.git('update-ref', 'refs/remotes/origin/production', 'HEAD')
  const pushed = await s.publish(['--file', s.image('osmia'), '--version-file', 'build/label', '--sequence-file', 'build/seq.txt'])
  t.equal(pushed.code, 0, pushed.stderr)
})

t.test('refusals before anything is uploaded, each saying what to do', async (t) => {
  const s = await setup(t)
  const before = storedArtifacts(s.server)
  const refused = async (args: string[], message: RegExp, what: string) => {
    const r = await s.publish(args)
    t.equal(r.code, 1, `${what}: exit 1`)
    t.match(r.stderr, message, what)
    t.same(storedArtifacts(s.server), before, `${what}: the artifact store is unchanged`)
  }

  // A release commit on main, tagged but never promoted to production.
  const onMain = s.repo.releaseCommit('leafcutter', 2)
  s.repo.tag('prod-leafcutter')
  await refused(
    ['--file', s.image('leafcutter')],
    new RegExp(`commit ${onMain.slice(0, 12)} \\(tag prod-leafcutter\\) is not on production: promote it first with \`git push origin ${onMain}:production\``),
    'a commit only on main'
  )

  s.repo.promote()
  s.repo.commit({ 'ESP32-CAM/main.cpp': '// untagged work\n' }, 'untagged work')
  s.repo.promote()
  await refused([], /HEAD \([0-9a-f]{12}\) is not tagged: tag it `git tag prod-<codename>` on production/, 'an untagged HEAD')
  await refused(
    ['--tag', 'prod-leafcutter'],
    /tag prod-leafcutter names commit [0-9a-f]{12}, but HEAD is [0-9a-f]{12}: the file was built from HEAD, not from the tag; check out the tag/,
    'a tag that names another commit'
  )
  await refused(['--tag', 'prod-nosuch'], /there is no tag prod-nosuch/, 'a tag that does not exist')
  await refused(['--tag', 'v2'], /tag v2 does not match the release tag pattern prod-\*/, 'a tag outside the pattern')

  s.repo.tag('prod-carpenter')
  s.repo.tag('prod-carpenter-again')
  await refused([], /HEAD has several release tags \(prod-carpenter, prod-carpenter-again\): choose one with --tag/, 'several tags at HEAD')

  fs.appendFileSync(path.join(s.repo.dir, 'ESP32-CAM/main.cpp'), '// a local edit\n')
  await refused(['--tag', 'prod-carpenter'], /the working tree has changes to tracked files \(M ESP32-CAM\/main.cpp\): the build must be exactly prod-carpenter/, 'a dirty tree')
  fs.writeFileSync(path.join(s.repo.dir, 'untracked.txt'), 'not part of the build\n')
  s.repo.git('checkout', '--quiet', '--', 'ESP32-CAM/main.cpp')
  await refused(['--tag', 'prod-carpenter', '--version', 'carpenter', '--file', s.image('carpenter'), '--board', 'nosuch'], /board nosuch is not known/, 'an unknown board')

  const tooBig = path.join(tempDir(t), 'big.bin')
  fs.writeFileSync(tooBig, buildEspImage({ version: 'carpenter', size: 2_100_000 }))
  await refused(['--tag', 'prod-carpenter', '--file', tooBig], /more than the 1966080-byte OTA slot of board esp32cam/, 'an image too large for the slot')
  t.equal((await releasesOf(s)).length, 0)
})

t.test('usage errors exit 2', async (t) => {
  const s = await setup(t)
  t.equal((await cli(['release', 'publish', '--file', 'x'], {})).code, 2, 'no --board')
  const both = await s.publish(['--version', 'a', '--version-file', 'b'])
  t.equal(both.code, 2)
  t.match(both.stderr, /give --version or --version-file, not both/)
  const badVersion = await s.publish(['--version', 'no spaces allowed'])
  t.equal(badVersion.code, 2)
  t.match(badVersion.stderr, /--version gives version "no spaces allowed"/)
  const badBranch = await s.publish(['--branch', 'no spaces'])
  t.equal(badBranch.code, 2, 'a branch name git cannot have')
  t.match(badBranch.stderr, /the release branch \(--branch or OTA_RELEASE_BRANCH\): "no spaces" is not a valid branch name/)
  t.equal((await s.publish(['--sequence', '0'])).code, 2, 'sequence 0')
  t.equal((await s.publish(['--rollout', '101'])).code, 2, 'rollout over 100')
  t.equal((await s.publish(['--file', '/nonexistent/app.bin'])).code, 2, 'a missing file')
  t.equal((await cli(['release', 'publish', '--board', 'esp32cam', '--file', s.keyFile, '--key', s.keyFile], {}, s.repo.dir)).code, 2, 'no server')
})

t.test('server refusals end with exit 1 and the server’s message', async (t) => {
  const s = await setup(t)
  t.equal((await s.publish()).code, 0)

  // An old sequence: the next release forgot to bump it.
  s.repo.releaseCommit('leafcutter', 1)
  s.repo.promote()
  s.repo.tag('prod-leafcutter')
  const old = await s.publish(['--file', s.image('leafcutter')])
  t.equal(old.code, 1)
  t.match(old.stderr, /sequence 1 is not above 1, the highest sequence of board esp32cam: publish with sequence 2 or higher .*\(409 sequence_not_increasing\)/)

  // A retired key.
  t.equal((await cli(['keys', 'retire', s.keyId], { OTA_DATA_DIR: s.server.dataDir })).code, 0)
  const retired = await s.publish(['--file', s.image('leafcutter'), '--sequence', '2'])
  t.equal(retired.code, 1)
  t.match(retired.stderr, new RegExp(`release key ${s.keyId} \\("release manager"\\) was retired on .* \\(422 key_retired\\)`))
  t.equal((await releasesOf(s)).length, 1)

  // The same version again with other bytes: refused before uploading, naming the release in the way.
  s.repo.commit({ 'ESP32-CAM/main.cpp': '// rebuilt\n' }, 'rebuild mason')
  s.repo.promote()
  s.repo.tag('prod-mason-rebuilt')
  const reused = await s.publish(['--file', s.image('mason', 2), '--version', 'mason', '--sequence', '3'])
  t.equal(reused.code, 1)
  t.match(reused.stderr, /board esp32cam already has a release named mason \(sequence 1, sha256 [0-9a-f]{12}…, tag prod-mason/)
})

/**
 * A loopback proxy in front of the server that forwards everything but cuts the connection of
 * POST /v1/releases: before forwarding it (`drop`), or after the server answered (`lose-answer`).
 */
async function cuttingProxy(t: TestContext, target: RunningServer, mode: 'drop' | 'lose-answer'): Promise<string> {
  const proxy = http.createServer((req, res) => {
    const cut = req.method === 'POST' && req.url === '/v1/releases'
    if (cut && mode === 'drop') {
      req.socket.destroy()
      return
    }
    const upstream = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (cut) {
        answer.resume()
        answer.on('end', () => req.socket.destroy())
        return
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => proxy.close(() => resolve())))
  const address = proxy.address()
  if (!address || typeof address === 'string') throw new Error('proxy did not listen')
  return `http://127.0.0.1:${address.port}`
}

t.test('a publish cut after the upload is completed by running it again, without duplicates', async (t) => {
  const s = await setup(t)
  const cut = await s.publish(['--json'], { server: await cuttingProxy(t, s.server, 'drop') })
  t.equal(cut.code, 1, 'the cut run fails')
  t.match(cut.stderr, /cannot reach the server/)
  t.equal(storedArtifacts(s.server).length, 1, 'the upload went through')
  t.equal((await releasesOf(s)).length, 0, 'the release was not recorded')

  const rerun = await s.publish(['--json'])
  t.equal(rerun.code, 0, rerun.stderr)
  t.match(JSON.parse(rerun.stdout), { status: 'published', upload: 'already_stored' })
  t.equal(storedArtifacts(s.server).length, 1, 'one artifact')
  t.equal((await releasesOf(s)).length, 1, 'one release')

  // The next release's POST reaches the server, but its answer is lost.
  s.repo.releaseCommit('leafcutter', 2)
  s.repo.promote()
  s.repo.tag('prod-leafcutter')
  const file = s.image('leafcutter')
  const lost = await s.publish(['--file', file], { server: await cuttingProxy(t, s.server, 'lose-answer') })
  t.equal(lost.code, 1)
  const again = await s.publish(['--file', file])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /^already published: esp32cam leafcutter is on the server, identical; nothing to do/)
  t.same((await releasesOf(s)).map((r) => [r.version, r.sequence]), [['leafcutter', 2], ['mason', 1]], 'exactly one release each')
  t.equal(storedArtifacts(s.server).length, 2)
})

t.test('release verify checks an image offline or against the server’s board', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'app.bin')
  const bytes = buildEspImage({ version: 'mason', projectName: 'esp32cam-fw', size: 300_000 })
  fs.writeFileSync(file, bytes)
  const digest = crypto.createHash('sha256').update(bytes).digest('hex')
  const md5 = crypto.createHash('md5').update(bytes).digest('hex')

  const ok = await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--chip', 'esp32', '--slot-size', '1966080'], {})
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, new RegExp(`size:\\s+${bytes.length} bytes \\(slot 1966080: fits, ${1966080 - bytes.length} bytes free\\)`))
  t.match(ok.stdout, new RegExp(`sha256:\\s+${digest}`))
  t.match(ok.stdout, new RegExp(`md5:\\s+${md5}`))
  t.match(ok.stdout, /chip:\s+esp32\n/)
  t.match(ok.stdout, /project:\s+esp32cam-fw/)
  t.match(ok.stdout, /app version:\s+mason/)

  const small = await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--chip', 'esp32', '--slot-size', '100000', '--json'], {})
  t.equal(small.code, 1)
  t.match(JSON.parse(small.stdout), { fits_slot: false, chip_matches: true, sha256: digest })
  t.match(small.stderr, /the server would refuse this image: the image is \d+ bytes, \d+ more than the 100000-byte OTA slot/)

  const otherChip = await cli(['release', 'verify', '--board', 's3cam', '--file', file, '--chip', 'esp32s3', '--slot-size', '1966080'], {})
  t.equal(otherChip.code, 1)
  t.match(otherChip.stderr, /built for esp32 \(chip id 0\), but board s3cam is esp32s3 \(chip id 9\)/)

  const damaged = Buffer.from(bytes)
  damaged[damaged.length - 40] ^= 0xff
  fs.writeFileSync(file, damaged)
  const bad = await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--chip', 'esp32', '--slot-size', '1966080'], {})
  t.equal(bad.code, 1)
  t.match(bad.stderr, /the file is not a valid ESP application image/)
  t.equal((await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--chip', 'esp32'], {})).code, 2, '--chip without --slot-size')
  t.equal((await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--chip', 'z80', '--slot-size', '1'], {})).code, 2)

  fs.writeFileSync(file, bytes)
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'operator')
  const online = await cli(['release', 'verify', '--board', 'esp32cam', '--file', file, '--server', server.url, '--token', token], {})
  t.equal(online.code, 0, online.stderr)
  t.match(online.stdout, /slot 1966080: fits/)
  const boards = await fetch(`${server.url}/v1/boards`, { headers: { authorization: `Bearer ${token}` } })
  t.match(await boards.json(), { boards: [{ name: 'esp32cam', chip: 'esp32', chip_id: 0, slot_size: 1966080 }] }, 'GET /v1/boards, any role')
  t.equal((await fetch(`${server.url}/v1/boards`)).status, 401, 'with a token only')
  const unknown = await cli(['release', 'verify', '--board', 'nosuch', '--file', file, '--server', server.url, '--token', token], {})
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /board nosuch is not known \(known: esp32cam\): add it with .* \(404 board_not_found\)/)
})

t.test('the upload progress bar: percent, bytes and rate on a terminal, nothing elsewhere', async (t) => {
  const tty = Object.assign(new PassThrough(), { isTTY: true })
  const chunks: string[] = []
  tty.on('data', (c: Buffer) => chunks.push(c.toString()))
  let clock = 0
  const bar = progressBar(tty, 'uploading', 2 * 1024 * 1024, () => clock)
  clock = 1000
  bar.update(1024 * 1024)
  clock = 2000
  bar.update(2 * 1024 * 1024)
  bar.finish()
  const text = chunks.join('')
  t.match(text, /uploading \[#{12}\.{12}\]  50%  1\.0 MiB \/ 2\.0 MiB  1\.0 MiB\/s/)
  t.match(text, /100%  2\.0 MiB \/ 2\.0 MiB  1\.0 MiB\/s\x1b\[K\n$/)
  t.equal(text.match(/100%/g)?.length, 1, 'the 100% line is printed once, not again by finish()')

  const pipe = new PassThrough()
  const piped: Buffer[] = []
  pipe.on('data', (c: Buffer) => piped.push(c))
  const quiet = progressBar(pipe, 'uploading', 100)
  quiet.update(100)
  quiet.finish()
  t.equal(Buffer.concat(piped).length, 0)
})

/** How many PUT /v1/artifacts requests the server has answered, from its own /metrics. */
/** Uploads counted by /metrics, which needs an operator token. */
async function artifactUploads(server: RunningServer, operatorToken: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${operatorToken}` } })).text()
  return [...text.matchAll(/^ota_http_request_duration_seconds_count\{[^}]*method="PUT"[^}]*route="\/v1\/artifacts\/:sha256"[^}]*\} ([0-9]+)$/gm)]
    .reduce((n, m) => n + Number(m[1]), 0)
}

t.test('a binary the server already holds as another release is refused before it is uploaded again', async (t) => {
  const s = await setup(t)
  const file = s.image('mason')
  t.equal((await s.publish(['--file', file])).code, 0)
  const operator = await createToken(s.server.dataDir, 'operator', 'metrics')
  const uploads = await artifactUploads(s.server, operator)
  t.equal(uploads, 1, 'the first publish uploaded once')

  s.repo.releaseCommit('leafcutter', 2)
  s.repo.promote()
  s.repo.tag('prod-leafcutter')
  const again = await s.publish(['--file', file])
  t.equal(again.code, 1)
  t.match(again.stderr, /this binary \([0-9a-f]{64}\) is already release mason of board esp32cam .*: a new release needs a new build; nothing was uploaded/)
  t.equal(await artifactUploads(s.server, operator), uploads, 'no second upload')
})

t.test('publish --rollout 10 prints the rollout; an image whose own version differs is published with a warning', async (t) => {
  const s = await setup(t)
  const r = await s.publish(['--file', s.image('mason-dev'), '--rollout', '10'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^  rollout:\s+10% of the channel's devices \(active; `ota-gate rollout set --percent N` widens it\)$/m)
  t.match(r.stderr, /^warning: the image's own version \(esp_app_desc_t\.version\) is "mason-dev", not "mason": .*PROJECT_VER to mason/m)
  const json = await s.publish(['--file', s.image('mason-dev'), '--rollout', '10', '--json'])
  t.equal(json.code, 0, json.stderr)
  t.match(JSON.parse(json.stdout), {
    status: 'already_published',
    version_from: /^ESP32-CAM\/VERSION at prod-mason/,
    sequence_from: /^ESP32-CAM\/SEQUENCE at prod-mason/,
    image_version: 'mason-dev',
    release: { rollout: { percent: 10 } },
  })
})
