import { execFile } from 'node:child_process'
import path from 'node:path'

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
const BRANCH = /^[A-Za-z0-9_][A-Za-z0-9._\/-]{0,99}$/

function assertTag(tag: string): void {
  const problem = tagNameProblem(tag)
  if (problem) throw new GitError(problem)
}

function assertCommit(commit: string): void {
  if (!COMMIT.test(commit)) throw new GitError(`"${commit}" is not a full commit id (40 lowercase hex)`)
}

function assertBranch(branch: string): void {
  if (!BRANCH.test(branch) || branch.includes('..')) throw new GitError(`"${branch}" is not a valid branch name`)
}

export interface GitResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs git in `repoDir` (no shell, a timeout, the repository named here and never one inherited
 * from the environment); resolves with any exit code, rejects when git cannot run or times out.
 */
export function runGit(repoDir: string, args: string[], options: { maxBuffer?: number } = {}): Promise<GitResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' }
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_CEILING_DIRECTORIES']) delete env[name]
  // safe.directory: the operator chose this repository, so a different owner (the mirror's user) is fine.
  const dir = path.resolve(repoDir)
  const argv = ['-c', `safe.directory=${dir}`, '-C', dir, ...args]
  const maxBuffer = options.maxBuffer ?? 1024 * 1024
  return new Promise((resolve, reject) => {
    execFile('git', argv, { env, timeout: GIT_TIMEOUT_MS, maxBuffer, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr })
      const code = (err as { code?: unknown }).code
      if (typeof code === 'number' && !(err as { killed?: boolean }).killed) return resolve({ code, stdout, stderr })
      const why = (err as { killed?: boolean }).killed
        ? `timed out after ${GIT_TIMEOUT_MS} ms`
        : (stderr.trim().split('\n')[0] || err.message)
      reject(new GitError(`git ${args[0]} in ${repoDir} failed: ${why}`))
    })
  })
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
 * The ref that holds the release branch: `refs/heads/<branch>` (a mirror, or a clone with the
 * branch checked out) or else `refs/remotes/origin/<branch>`; undefined when neither exists.
 */
export async function findReleaseBranchRef(repoDir: string, branch: string): Promise<string | undefined> {
  assertBranch(branch)
  for (const ref of [`refs/heads/${branch}`, `refs/remotes/origin/${branch}`]) {
    if ((await revParse(repoDir, `${ref}^{commit}`)) !== undefined) return ref
  }
  return undefined
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
