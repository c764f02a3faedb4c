import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
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

export function makeFirmwareRepo(t: TestContext): FirmwareRepo {
  const dir = tempDir(t, 'ota-gate-firmware-')
  const git = (...args: string[]) =>
    execFileSync('git', [...IDENTITY, '-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim()
  git('init', '--quiet', '--initial-branch=main')
  const repo: FirmwareRepo = {
    dir,
    git,
    commit(files, message) {
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
      git('branch', '--force', 'production', commit)
    },
    tag(name, commit = 'HEAD') {
      git('tag', '--annotate', '--message', `release ${name}`, name, commit)
    },
  }
  repo.commit({ 'ESP32-CAM/main.cpp': 'int main() { return 0; }\n' }, 'firmware skeleton')
  return repo
}
