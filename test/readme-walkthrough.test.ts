import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ensureBuilt, freePort } from './support/built-server'
import { buildEspImage } from './support/esp-image-builder'
import { makeFirmwareRepo } from './support/git-repo'
import { tempDir } from './support/server'
import { uninstrumented } from './support/uninstrumented'

// The README's "A first release, end to end", pasted line by line into bash in a fresh clone, as a
// new user would: every line must succeed and print what the `#>` lines under it say. Two things
// differ from a person's terminal, both said here: `npm ci` installs from the registry, which CI's
// own `npm ci` already does, so the clone gets this checkout's node_modules and the build that
// `npm ci` would run (its `prepare` script; see below); and port 8080 becomes a free port (OTA_PORT).

const PROJECT = path.resolve(__dirname, '..')

interface Step {
  command: string
  expected: string[]
}

/** The walkthrough: the first ```sh block after its heading, as commands and their `#>` lines. */
function walkthrough(): Step[] {
  const readme = fs.readFileSync(path.join(PROJECT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## A first release, end to end'))
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
  const steps: Step[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('#> ')) steps[steps.length - 1].expected.push(line.slice(3))
    else if (line.trim() !== '') steps.push({ command: line, expected: [] })
  }
  return steps
}

/**
 * A `#>` line as a pattern: `…` stands for anything. Not anchored: the server's log lines, written
 * to the same terminal, may land on the line before a command's answer ends (curl prints no newline).
 */
const linePattern = (expected: string) => new RegExp(expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*'))

const isGitCheckout = fs.existsSync(path.join(PROJECT, '.git'))

t.test('README walkthrough: every line runs in a fresh clone and prints what the README shows', { skip: isGitCheckout ? false : 'not a git checkout: nothing to clone' }, async (t) => {
  const steps = walkthrough()
  t.ok(steps.length >= 10, 'the walkthrough is found')
  t.equal(steps[0].command.split('#')[0].trim(), 'npm ci', 'it starts with npm ci')
  t.ok(steps.some((s) => /token create --role operator/.test(s.command)), 'an operator token is created')
  t.notOk(steps.some((s) => /--out (?!~\/)/.test(s.command)), 'keys are written outside the checkout')

  const home = tempDir(t, 'ota-gate-home-')
  const clone = path.join(tempDir(t, 'ota-gate-clone-'), 'ota-gate')
  execFileSync('git', ['clone', '--quiet', PROJECT, clone])
  fs.symlinkSync(path.join(PROJECT, 'node_modules'), path.join(clone, 'node_modules'))

  // The user's firmware repository: HEAD at prod-mason on production, built, clean.
  const firmware = makeFirmwareRepo(t)
  firmware.releaseCommit('mason', 12)
  firmware.promote()
  firmware.tag('prod-mason')
  fs.mkdirSync(path.join(firmware.dir, 'build'))
  fs.writeFileSync(path.join(firmware.dir, 'build', 'app.bin'), buildEspImage({ version: 'mason', size: 150_000 }))
  fs.mkdirSync(path.join(home, 'src'))
  fs.symlinkSync(firmware.dir, path.join(home, 'src', 'firmware'))

  // The build `npm ci` runs. When nothing the build reads is changed or new in this checkout, and
  // its dist/ is newer than every source, the clone's build would be this same tsc run over the
  // same files: the clone takes dist/ from here (a build costs more CPU than the rest of the
  // walkthrough). CI's own `npm ci` in a clean checkout runs that build from scratch.
  const buildInputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']
  const uncommitted = execFileSync('git', ['-C', PROJECT, 'status', '--porcelain', '--', ...buildInputs], { encoding: 'utf8' })
  if (uncommitted === '') ensureBuilt()
  const builtHere = uncommitted === ''
  if (builtHere) fs.cpSync(path.join(PROJECT, 'dist'), path.join(clone, 'dist'), { recursive: true })
  t.comment(builtHere ? 'the clone takes the build of this checkout, made from the same sources' : `building in the clone: this checkout has changes to what the build reads\n${uncommitted}`)

  const port = String(await freePort())
  const marker = (i: number) => `@@@ step ${i} @@@`
  const script = [
    'shopt -s expand_aliases', // as in an interactive shell
    'set -e',
    ...steps.flatMap((s, i) => [
      i === 0 ? (builtHere ? 'true' : 'npm run -s build') : s.command.replaceAll('8080', port),
      `echo '${marker(i)}'`,
    ]),
  ].join('\n')
  const shell = spawn(...uninstrumented('bash', ['-c', script]), {
    cwd: clone,
    env: { PATH: process.env.PATH, HOME: home, OTA_PORT: port, TERM: 'dumb' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that the server it starts in the background is stopped with it.
    detached: true,
  })
  let output = ''
  shell.stdout.on('data', (d: Buffer) => (output += d.toString()))
  shell.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const code = await new Promise<number | null>((resolve) => shell.once('exit', resolve))
  t.teardown(() => {
    try {
      process.kill(-(shell.pid as number), 'SIGTERM')
    } catch {
      // already gone
    }
  })
  t.equal(code, 0, `the walkthrough ran without an error:\n${output}`)

  let rest = output
  steps.forEach((step, i) => {
    const end = rest.indexOf(marker(i))
    t.ok(end >= 0, `step ${i} ran: ${step.command}`)
    const lines = rest.slice(0, end).split('\n')
    rest = rest.slice(end + marker(i).length)
    // Each #> line, in order, among the lines the command printed (log lines may come in between).
    let at = 0
    for (const expected of step.expected) {
      const found = lines.slice(at).findIndex((l) => linePattern(expected).test(l))
      t.ok(found >= 0, `${step.command}\n  prints: ${expected}\n  printed:\n${lines.join('\n')}`)
      if (found >= 0) at += found + 1
    }
  })
  const status = execFileSync('git', ['-C', clone, 'status', '--porcelain'], { encoding: 'utf8' })
  t.notMatch(status, /\.pem/, 'no key in the checkout')
})
