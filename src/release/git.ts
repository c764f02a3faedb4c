import { execFile, type ExecFileException } from 'node:child_process'
import path from 'node:path'
import { BRANCH_NAME_PATTERN } from '../schemas/common'

// Read-only questions to a firmware repository (working clone or bare mirror), asked with the git
// binary through execFile: no shell, arguments as given, a timeout on every call. Shared by the
// server's provenance check and the release tool.

const GIT_TIMEOUT_MS = 10_000

export class GitError extends Error {
  override name = 'GitError'
}

// A conservative subset of git's check-ref-format rules; it also keeps anything that could read
// as an option (leading "-") or a revision expression ("..", "@{", "^", "~", ":") out of argv.
const TAG_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+\/-]{0,199}$/

/** Why a tag name cannot be used, or undefined when it is a plain, safe tag name. */
export function tagNameProblem(tag: string): string | undefined {
  if (!TAG_NAME.test(tag) || tag.includes('..') || tag.includes('//') || /(^|\/)\./.test(tag) || /(\.lock|\/|\.)$/.test(tag)) {
    return `"${tag}" is not a valid tag name: use letters, digits, ".", "_", "+", "-" and "/"`
  }
  return undefined
}

const COMMIT = /^[0-9a-f]{40}$/
const BRANCH = new RegExp(BRANCH_NAME_PATTERN)

function assertTag(tag: string): void {
  const problem = tagNameProblem(tag)
  if (problem) throw new GitError(problem)
}

function assertCommit(commit: string): void {
  if (!COMMIT.test(commit)) throw new GitError(`"${commit}" is not a full commit id (40 lowercase hex)`)
}

/** Why `branch` cannot name a release branch here, or undefined when it can. */
export function branchNameProblem(branch: string): string | undefined {
  if (!BRANCH.test(branch)) {
    return `"${branch}" is not a valid branch name: use at most 100 letters, digits, ".", "_", "-" and "/", starting with a letter, digit or "_", without ".."`
  }
  return undefined
}

function assertBranch(branch: string): void {
  const problem = branchNameProblem(branch)
  if (problem) throw new GitError(problem)
}

export interface GitResult {
  code: number
  stdout: string
  stderr: string
}

/** git's environment and argv for `repoDir`: the repository named here, never one inherited from the environment. */
function gitInvocation(repoDir: string, args: string[]): { argv: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' }
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_CEILING_DIRECTORIES']) delete env[name]
  // safe.directory: the operator chose this repository, so a different owner (the mirror's user) is fine.
  const dir = path.resolve(repoDir)
  return { argv: ['-c', `safe.directory=${dir}`, '-C', dir, ...args], env }
}

/** An exit code as an answer, or the GitError of a git that could not run or timed out. */
function settle<T>(repoDir: string, args: string[], err: ExecFileException | null, stdout: T, stderr: string): { code: number; stdout: T; stderr: string } {
  if (!err) return { code: 0, stdout, stderr }
  if (typeof err.code === 'number' && !err.killed) return { code: err.code, stdout, stderr }
  const why = err.killed ? `timed out after ${GIT_TIMEOUT_MS} ms` : stderr.trim().split('\n')[0] || err.message
  throw new GitError(`git ${args[0]} in ${repoDir} failed: ${why}`)
}

/**
 * Runs git in `repoDir` (no shell, a timeout, the repository named here and never one inherited
 * from the environment); resolves with any exit code, rejects when git cannot run or times out.
 */
export function runGit(repoDir: string, args: string[], options: { maxBuffer?: number } = {}): Promise<GitResult> {
  const { argv, env } = gitInvocation(repoDir, args)
  const maxBuffer = options.maxBuffer ?? 1024 * 1024
  return new Promise((resolve, reject) => {
    execFile('git', argv, { env, timeout: GIT_TIMEOUT_MS, maxBuffer, encoding: 'utf8' }, (err, stdout, stderr) => {
      try {
        resolve(settle(repoDir, args, err, stdout, stderr))
      } catch (e) {
        reject(e)
      }
    })
  })
}

/**
 * `git cat-file <mode>` asked about every one of `names` in one process (a process costs more than
 * the question), the names on its standard input, never in argv. Rejects unless git answers 0.
 */
function catFile(repoDir: string, mode: '--batch' | '--batch-check', names: string[], maxBuffer: number): Promise<Buffer> {
  const args = ['cat-file', mode]
  for (const name of names) {
    if (/[\n\0]/.test(name)) throw new GitError(`"${name.replace(/[\n\0]/g, '?')}" cannot be asked of git: it holds a line break`)
  }
  const { argv, env } = gitInvocation(repoDir, args)
  return new Promise((resolve, reject) => {
    const child = execFile('git', argv, { env, timeout: GIT_TIMEOUT_MS, maxBuffer, encoding: 'buffer' }, (err, stdout, stderr) => {
      try {
        const r = settle(repoDir, args, err, stdout, stderr.toString('utf8'))
        if (r.code !== 0) throw new GitError(`git cat-file in ${repoDir} failed: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`)
        resolve(r.stdout)
      } catch (e) {
        reject(e)
      }
    })
    // git may end before reading all of its input (not a repository): its error is the answer.
    child.stdin?.on('error', () => undefined)
    child.stdin?.end(names.map((n) => `${n}\n`).join(''))
  })
}

/** cat-file's header for an object it found: `<id> <type> <size>`; anything else (`<name> missing`) found nothing. */
const FOUND = /^([0-9a-f]{40,64}) (\S+) (\d+)$/

/**
 * The object each of `revisions` names (e.g. `HEAD^{commit}`, `refs/tags/x^{commit}`), in order,
 * undefined for one that names nothing: one git process for all of them.
 */
export async function resolveRevisions(repoDir: string, revisions: string[]): Promise<Array<string | undefined>> {
  if (revisions.length === 0) return []
  const lines = (await catFile(repoDir, '--batch-check', revisions, 1024 * 1024)).toString('utf8').split('\n')
  return revisions.map((_, i) => FOUND.exec(lines[i] ?? '')?.[1])
}

/**
 * The bytes of each of `blobs` (`<commit>:<path>`), in order, undefined for one that names no file
 * (nothing, or a directory): one git process for all of them.
 */
export async function readBlobs(repoDir: string, blobs: string[], maxBuffer: number): Promise<Array<Buffer | undefined>> {
  if (blobs.length === 0) return []
  const out = await catFile(repoDir, '--batch', blobs, maxBuffer)
  const found: Array<Buffer | undefined> = []
  let at = 0
  for (let i = 0; i < blobs.length; i++) {
    const end = out.indexOf(0x0a, at)
    if (end < 0) throw new GitError(`git cat-file in ${repoDir} answered ${i} of ${blobs.length} names`)
    const header = FOUND.exec(out.toString('utf8', at, end))
    at = end + 1
    if (!header) {
      found.push(undefined)
      continue
    }
    // Every object found is followed by its content and a newline, a blob's or not.
    const size = Number(header[3])
    found.push(header[2] === 'blob' ? out.subarray(at, at + size) : undefined)
    at += size + 1
  }
  return found
}

/** Runs git in `repoDir`; resolves with the exit code (0 or 1 are answers), rejects on anything else. */
async function git(repoDir: string, args: string[]): Promise<GitResult> {
  const r = await runGit(repoDir, args)
  if (r.code === 0 || r.code === 1) return r
  throw new GitError(`git ${args[0]} in ${repoDir} failed: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`)
}

/** The commit a ref or revision names, or undefined when it names none. */
async function revParse(repoDir: string, revision: string): Promise<string | undefined> {
  const r = await git(repoDir, ['rev-parse', '--verify', '--quiet', '--end-of-options', revision])
  return r.code === 0 ? r.stdout.trim() : undefined
}

/** Whether `refs/tags/<tag>` exists. */
export async function tagExists(repoDir: string, tag: string): Promise<boolean> {
  assertTag(tag)
  return (await revParse(repoDir, `refs/tags/${tag}`)) !== undefined
}

/** The commit the tag points at (annotated or lightweight), or undefined when there is no such tag. */
export async function resolveTagCommit(repoDir: string, tag: string): Promise<string | undefined> {
  assertTag(tag)
  return revParse(repoDir, `refs/tags/${tag}^{commit}`)
}

/** The commit HEAD points at (for the release tool: the tag must point at what was built). */
export async function headCommit(repoDir: string): Promise<string | undefined> {
  return revParse(repoDir, 'HEAD^{commit}')
}

/**
 * The refs of the release branch that exist, the local branch first: `refs/heads/<branch>` (a
 * mirror, or a clone with the branch checked out) and `refs/remotes/origin/<branch>` (a clone
 * without it; `git push origin <sha>:production` moves only this one).
 */
export async function releaseBranchRefs(repoDir: string, branch: string): Promise<string[]> {
  return (await tagAndBranchRefs(repoDir, undefined, branch)).branchRefs
}

/**
 * The commit `tag` names (when one is given) and the refs of the release branch that exist (as
 * releaseBranchRefs), asked of one git process.
 */
export async function tagAndBranchRefs(repoDir: string, tag: string | undefined, branch: string): Promise<{ tagCommit: string | undefined; branchRefs: string[] }> {
  if (tag !== undefined) assertTag(tag)
  assertBranch(branch)
  const refs = [`refs/heads/${branch}`, `refs/remotes/origin/${branch}`]
  const tags = tag === undefined ? [] : [`refs/tags/${tag}^{commit}`]
  const answers = await resolveRevisions(repoDir, [...tags, ...refs.map((ref) => `${ref}^{commit}`)])
  const commits = answers.slice(tags.length)
  return { tagCommit: tag === undefined ? undefined : answers[0], branchRefs: refs.filter((_, i) => commits[i] !== undefined) }
}

/** Whether `commit` is `branchRef` or one of its ancestors (`git merge-base --is-ancestor`). */
export async function isReachableFromBranch(repoDir: string, commit: string, branchRef: string): Promise<boolean> {
  assertCommit(commit)
  if (!/^refs\/(heads|remotes\/origin)\//.test(branchRef)) throw new GitError(`"${branchRef}" is not a branch ref (refs/heads/… or refs/remotes/origin/…)`)
  return (await git(repoDir, ['merge-base', '--is-ancestor', commit, branchRef])).code === 0
}

/** `git status --porcelain` lines of a working clone (untracked files included, ignored ones not); empty when clean. */
export async function uncommittedChanges(repoDir: string): Promise<string[]> {
  const r = await git(repoDir, ['status', '--porcelain=v1'])
  if (r.code !== 0) throw new GitError(`git status in ${repoDir} failed: ${r.stderr.trim()}`)
  return r.stdout.split('\n').filter((line) => line.trim() !== '')
}
