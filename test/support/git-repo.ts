import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { GitWriter } from './git-objects'
import { tempDir, type TestContext } from './server'

// Real firmware repositories for tests, laid out like the ESP32-CAM firmware: releases are commits
// on main, promoted by fast-forward to production and tagged prod-<codename>, with the label and
// the sequence in ESP32-CAM/VERSION and ESP32-CAM/SEQUENCE.

const IDENTITY = ['-c', 'user.name=Release Tester', '-c', 'user.email=release@example.com', '-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false']

export interface FirmwareRepo {
  dir: string
  /** runs git in the repository and returns its trimmed output */
  git(...args: string[]): string
  /** writes files (path → content) and commits them on the current branch; returns the commit */
  commit(files: Record<string, string>, message: string): string
  /** a commit on main with ESP32-CAM/VERSION and ESP32-CAM/SEQUENCE set */
  releaseCommit(version: string, sequence: number): string
  /** fast-forwards production to `commit` (HEAD by default) */
  promote(commit?: string): void
  /** an annotated tag on `commit` (HEAD by default) */
  tag(name: string, commit?: string): void
}

/** git commands that leave the branch, the index and the working tree as they are. */
const READ_ONLY = new Set(['rev-parse', 'cat-file', 'log', 'show', 'for-each-ref', 'fsck', 'status', 'merge-base', 'ls-tree'])

export function makeFirmwareRepo(t: TestContext): FirmwareRepo {
  const dir = tempDir(t, 'ota-gate-firmware-')
  const run = (...args: string[]) =>
    execFileSync('git', [...IDENTITY, '-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim()
  run('init', '--quiet', '--initial-branch=main')
  // Commits, tags and branches are written without a git process each (git-objects.ts) until a
  // test runs a git command that changes the repository itself; from then on git makes them.
  let writer: GitWriter | undefined = new GitWriter(dir, { name: 'Release Tester', email: 'release@example.com' })
  const git = (...args: string[]) => {
    if (!READ_ONLY.has(args[0])) writer = undefined
    return run(...args)
  }
  const commitId = (rev: string) => (rev === 'HEAD' && writer?.head ? writer.head : /^[0-9a-f]{40}$/.test(rev) ? rev : run('rev-parse', `${rev}^{commit}`))
  const repo: FirmwareRepo = {
    dir,
    git,
    commit(files, message) {
      if (writer) return writer.commit(files, message)
      for (const [file, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
        fs.writeFileSync(path.join(dir, file), content)
      }
      git('add', '--', ...Object.keys(files))
      git('commit', '--quiet', '-m', message)
      return git('rev-parse', 'HEAD')
    },
    releaseCommit(version, sequence) {
      return repo.commit({ 'ESP32-CAM/VERSION': `${version}\n`, 'ESP32-CAM/SEQUENCE': `${sequence}\n` }, `release ${version}`)
    },
    promote(commit = 'HEAD') {
      if (writer) return writer.setRef('refs/heads/production', commitId(commit))
      git('branch', '--force', 'production', commit)
    },
    tag(name, commit = 'HEAD') {
      if (writer) return writer.tag(name, commitId(commit), `release ${name}`)
      git('tag', '--annotate', '--message', `release ${name}`, name, commit)
    },
  }
  repo.commit({ 'ESP32-CAM/main.cpp': 'int main() { return 0; }\n' }, 'firmware skeleton')
  return repo
}
