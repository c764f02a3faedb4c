import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import {
  GitError,
  headCommit,
  isReachableFromBranch,
  readBlobs,
  releaseBranchRefs,
  resolveRevisions,
  resolveTagCommit,
  tagAndBranchRefs,
  tagExists,
  tagNameProblem,
  uncommittedChanges,
} from '../src/release/git'
import { checkProvenance, matchesTagPattern } from '../src/release/provenance'
import { buildEspImage } from './support/esp-image-builder'
import { releaseRequest, trustedKey, uploadArtifact } from './support/publish'
import { NO_AHEAD_DELTAS } from './support/env'
import { call } from './support/http'
import { buildApp, createToken, tempDir, type TestContext } from './support/server'

// A firmware repository as the project keeps it: work lands on main, releases are promoted to
// production and tagged prod-<name> there. One commit is only on main but carries a prod- tag.
interface Repo {
  dir: string
  onProduction: string
  annotated: string
  mainOnly: string
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Tester',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 'Tester',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim()
}

function makeRepo(t: TestContext): Repo {
  const dir = tempDir(t, 'ota-gate-firmware-')
  git(dir, 'init', '--quiet', '--initial-branch=main')
  const commit = (file: string, message: string) => {
    fs.writeFileSync(path.join(dir, file), message)
    git(dir, 'add', file)
    git(dir, '-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', message)
    return git(dir, 'rev-parse', 'HEAD')
  }
  const annotated = commit('a.txt', 'first release')
  const onProduction = commit('b.txt', 'second release')
  git(dir, 'branch', 'production', 'HEAD')
  git(dir, '-c', 'tag.gpgsign=false', 'tag', '-a', '-m', 'release mason', 'prod-mason', annotated)
  git(dir, 'tag', 'prod-carder', onProduction)
  const mainOnly = commit('c.txt', 'not promoted')
  git(dir, 'tag', 'prod-leafcutter', mainOnly)
  return { dir, onProduction, annotated, mainOnly }
}

/** What lives as long as the file's tests (tap's root test). */
const wholeFile: TestContext = t
let made: Repo | undefined

/**
 * The file's repository, made with git once (from the test process a git process costs tens of
 * milliseconds): tests that only read it share it, a test that changes it works on a copy.
 */
function firmwareRepo(t: TestContext, use: 'read' | 'change'): Repo {
  made ??= makeRepo(wholeFile)
  if (use === 'read') return made
  const dir = path.join(tempDir(t), 'firmware')
  fs.cpSync(made.dir, dir, { recursive: true })
  return { ...made, dir }
}

t.test('tag patterns match like git tag -l globs', async (t) => {
  t.ok(matchesTagPattern('prod-mason', 'prod-*'))
  t.ok(matchesTagPattern('prod-', 'prod-*'))
  t.notOk(matchesTagPattern('v1.0', 'prod-*'))
  t.notOk(matchesTagPattern('xprod-mason', 'prod-*'), 'anchored at the start')
  t.ok(matchesTagPattern('prod/2026/mason', 'prod/*'), '* crosses "/" as in git tag -l')
  t.ok(matchesTagPattern('rc1', 'rc?'))
  t.notOk(matchesTagPattern('rc10', 'rc?'))
  t.ok(matchesTagPattern('v2.1', 'v[0-9].*'))
  t.notOk(matchesTagPattern('vx.1', 'v[0-9].*'))
  t.ok(matchesTagPattern('vx.1', 'v[!0-9].*'))
  t.notOk(matchesTagPattern('v2x1', 'v2.1'), '"." is literal')
  t.ok(matchesTagPattern('a*b', 'a\\*b'))
  t.notOk(matchesTagPattern('axb', 'a\\*b'))
})

t.test('forms are checked without a repository; the result is attested', async (t) => {
  const settings = { tagPattern: 'prod-*', releaseBranch: 'production' }
  t.same(await checkProvenance({ tag: 'prod-mason', commit: 'a'.repeat(40) }, settings), { ok: true, provenance: 'attested' })
  const wrongTag = await checkProvenance({ tag: 'v1.0', commit: 'a'.repeat(40) }, settings)
  t.match(wrongTag, { ok: false, check: 'tag_pattern', message: /does not match the release tag pattern "prod-\*"/ })
  t.match(await checkProvenance({ tag: 'prod-mason', commit: 'ABC' }, settings), { ok: false, check: 'commit_form', message: /not 40 lowercase hex/ })
  t.match(await checkProvenance({ tag: 'prod-..x', commit: 'a'.repeat(40) }, settings), { ok: false, check: 'tag_name' })
  t.match(await checkProvenance({ tag: 'prod-x^{tree}', commit: 'a'.repeat(40) }, settings), { ok: false, check: 'tag_name' })
})

t.test('git helpers answer from a real repository and refuse unsafe arguments', async (t) => {
  const repo = firmwareRepo(t, 'change')
  t.equal(await resolveTagCommit(repo.dir, 'prod-mason'), repo.annotated, 'an annotated tag is peeled to its commit')
  t.equal(await resolveTagCommit(repo.dir, 'prod-carder'), repo.onProduction, 'a lightweight tag')
  t.equal(await resolveTagCommit(repo.dir, 'prod-none'), undefined)
  t.ok(await tagExists(repo.dir, 'prod-mason'))
  t.notOk(await tagExists(repo.dir, 'production'), 'a branch is not a tag')
  t.equal(await headCommit(repo.dir), repo.mainOnly)
  t.same(await releaseBranchRefs(repo.dir, 'production'), ['refs/heads/production'])
  t.same(await releaseBranchRefs(repo.dir, 'staging'), [])
  t.ok(await isReachableFromBranch(repo.dir, repo.annotated, 'refs/heads/production'))
  t.ok(await isReachableFromBranch(repo.dir, repo.onProduction, 'refs/heads/production'))
  t.notOk(await isReachableFromBranch(repo.dir, repo.mainOnly, 'refs/heads/production'))
  t.same(await uncommittedChanges(repo.dir), [])
  fs.writeFileSync(path.join(repo.dir, 'a.txt'), 'changed')
  t.same(await uncommittedChanges(repo.dir), [' M a.txt'])

  t.equal(tagNameProblem('prod-mason'), undefined)
  for (const bad of ['--upload-pack=x', '-x', 'a..b', 'a@{1}', 'x^', 'x~1', 'a:b', 'a b', 'a.lock', 'a/', '.a', '']) {
    t.ok(tagNameProblem(bad), `"${bad}" refused`)
    await t.rejects(resolveTagCommit(repo.dir, bad), GitError)
  }
  await t.rejects(isReachableFromBranch(repo.dir, 'HEAD', 'refs/heads/production'), GitError)
  await t.rejects(isReachableFromBranch(repo.dir, repo.annotated, '--all'), GitError)
  await t.rejects(releaseBranchRefs(repo.dir, '-production'), GitError)
  await t.rejects(resolveTagCommit(tempDir(t), 'prod-mason'), /not a git repository/)
})

t.test('batched questions: several revisions or files in one git process, each answered in its place', async (t) => {
  const repo = firmwareRepo(t, 'change')
  t.same(
    await resolveRevisions(repo.dir, ['refs/tags/prod-mason^{commit}', 'refs/heads/nope^{commit}', 'HEAD^{commit}', 'refs/tags/prod-carder^{commit}']),
    [repo.annotated, undefined, repo.mainOnly, repo.onProduction],
    'found and missing, in the order asked'
  )
  t.same(await resolveRevisions(repo.dir, []), [], 'nothing asked, no process')
  git(repo.dir, 'update-ref', 'refs/remotes/origin/production', repo.onProduction)
  t.same(await releaseBranchRefs(repo.dir, 'production'), ['refs/heads/production', 'refs/remotes/origin/production'], 'both refs of the branch, the local one first')
  t.same(await tagAndBranchRefs(repo.dir, 'prod-none', 'production'), { tagCommit: undefined, branchRefs: ['refs/heads/production', 'refs/remotes/origin/production'] })
  t.same(await tagAndBranchRefs(repo.dir, 'prod-mason', 'staging'), { tagCommit: repo.annotated, branchRefs: [] })

  // Contents with line breaks and bytes that are not text, a directory, a missing file and an
  // empty one: each answer stays in its place.
  const bytes = Buffer.from([0x0a, 0x00, 0xff, 0x0a, 0x41])
  fs.mkdirSync(path.join(repo.dir, 'dir'))
  fs.writeFileSync(path.join(repo.dir, 'dir', 'raw.bin'), bytes)
  fs.writeFileSync(path.join(repo.dir, 'empty'), '')
  git(repo.dir, 'add', 'dir', 'empty')
  git(repo.dir, '-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'files')
  const head = git(repo.dir, 'rev-parse', 'HEAD')
  const blobs = await readBlobs(repo.dir, [`${head}:dir/raw.bin`, `${head}:dir`, `${head}:a.txt`, `${head}:nope`, `${head}:empty`, `${repo.annotated}:a.txt`], 1024 * 1024)
  t.same(blobs[0], bytes, 'the bytes as committed')
  t.equal(blobs[1], undefined, 'a directory is no file')
  t.equal(blobs[2]?.toString(), 'first release')
  t.equal(blobs[3], undefined, 'a missing file')
  t.same(blobs[4], Buffer.alloc(0), 'an empty file is a file')
  t.equal(blobs[5]?.toString(), 'first release', 'at another commit')

  await t.rejects(readBlobs(repo.dir, [`${head}:a\n${head}:b`], 1024), GitError, 'a name with a line break is refused, not sent')
  await t.rejects(resolveRevisions(tempDir(t), ['HEAD']), /not a git repository/)
  await t.rejects(tagAndBranchRefs(repo.dir, 'a..b', 'production'), GitError)
})

async function gitServer(t: TestContext, gitDir: string) {
  const server = await buildApp(t, { ...NO_AHEAD_DELTAS, OTA_GIT_DIR: gitDir })
  const token = await createToken(server.dataDir, 'releaser')
  const key = await trustedKey(server)
  let sequence = 0
  let n = 0
  /** Publishes a fresh image with the tag and commit given; answers the status and body. */
  const publish = async (tag: string, commit: string) => {
    const version = `v${++n}`
    const image = buildEspImage({ version, seed: n + 1000 })
    await uploadArtifact(server, token, image)
    return call(server, 'POST', '/v1/releases', token, releaseRequest(key, { version, sequence: ++sequence, image, tag, commit }))
  }
  return { server, publish }
}

t.test('server with OTA_GIT_DIR: verified on production, refused with the reason otherwise', async (t) => {
  const repo = firmwareRepo(t, 'read')
  const { publish } = await gitServer(t, repo.dir)

  const annotated = await publish('prod-mason', repo.annotated)
  t.equal(annotated.status, 201, JSON.stringify(annotated.body))
  t.equal(annotated.body.provenance, 'verified')
  const lightweight = await publish('prod-carder', repo.onProduction)
  t.equal(lightweight.status, 201, JSON.stringify(lightweight.body))
  t.equal(lightweight.body.provenance, 'verified')

  const mainOnly = await publish('prod-leafcutter', repo.mainOnly)
  t.equal(mainOnly.status, 422)
  t.equal(mainOnly.body.error, 'provenance_failed')
  t.match(mainOnly.body.message, `commit ${repo.mainOnly.slice(0, 7)}… is not on production: promote it with \`git push origin ${repo.mainOnly}:production\``)

  const otherCommit = await publish('prod-carder', repo.annotated)
  t.equal(otherCommit.status, 422)
  t.equal(otherCommit.body.error, 'provenance_failed')
  t.match(otherCommit.body.message, `tag prod-carder points at ${repo.onProduction}, not at ${repo.annotated}`)

  const unknown = await publish('prod-nosuch', repo.onProduction)
  t.equal(unknown.status, 422)
  t.match(unknown.body.message, /tag prod-nosuch does not exist in the firmware repository: push it/)

  const pattern = await publish('release-1', repo.onProduction)
  t.equal(pattern.status, 422)
  t.match(pattern.body.message, /does not match the release tag pattern "prod-\*"/)
})

// How a server host keeps the firmware repository: a bare mirror (production in refs/heads) or a
// plain clone where production exists only as origin/production.
const layouts = [
  { name: 'a bare mirror', args: ['--mirror'], ref: 'refs/heads/production' },
  { name: 'a clone without a local production branch', args: [], ref: 'refs/remotes/origin/production' },
]
for (const layout of layouts) {
  t.test(`${layout.name} is read the same way (${layout.ref})`, async (t) => {
    const repo = firmwareRepo(t, 'read')
    const copy = path.join(tempDir(t), 'firmware')
    git(repo.dir, 'clone', '--quiet', ...layout.args, repo.dir, copy)
    t.same(await releaseBranchRefs(copy, 'production'), [layout.ref])
    const { publish } = await gitServer(t, copy)
    const ok = await publish('prod-carder', repo.onProduction)
    t.equal(ok.status, 201, JSON.stringify(ok.body))
    t.equal(ok.body.provenance, 'verified')
    const refused = await publish('prod-leafcutter', repo.mainOnly)
    t.equal(refused.status, 422)
    t.match(refused.body.message, /is not on production/)
  })
}

t.test('a repository without the release branch, or no repository at all, is refused with what to check', async (t) => {
  const repo = firmwareRepo(t, 'change')
  git(repo.dir, 'branch', '-D', 'production')
  const { publish } = await gitServer(t, repo.dir)
  const noBranch = await publish('prod-mason', repo.annotated)
  t.equal(noBranch.status, 422)
  t.match(noBranch.body.message, /no release branch production .*OTA_RELEASE_BRANCH/)

  const { publish: publishNowhere } = await gitServer(t, path.join(tempDir(t), 'missing'))
  const nowhere = await publishNowhere('prod-mason', repo.annotated)
  t.equal(nowhere.status, 422)
  t.equal(nowhere.body.error, 'provenance_failed')
  t.match(nowhere.body.message, /could not check the firmware repository .*OTA_GIT_DIR/)
})
