// Checks the files in deploy/: the nginx config (with a real nginx in front of a
// stand-in backend), the systemd units, and deploy.sh against real git repositories.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import { freePort } from './support/built-server'
import { uninstrumented } from './support/uninstrumented'
import { tempDir, type TestContext as Teardown } from './support/server'

const root = path.resolve(__dirname, '..')
const deployDir = path.join(root, 'deploy')
const unitDir = path.join(deployDir, 'systemd')
/** What lives as long as the file's tests (tap's root test). */
const wholeFile: Teardown = t


/** nginx and systemd-analyze live in sbin folders that a non-root PATH may lack. */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) {
    if (!dir) continue
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  return undefined
}

interface Finished {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a program without blocking the event loop (servers in this process must keep answering it). */
function run(
  program: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(...uninstrumented(program, args), { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

// ---------------------------------------------------------------- systemd

type Unit = Map<string, Map<string, string[]>>

/** Sections → keys → every value given (systemd allows repeated keys). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map()
  let section: Map<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      section = new Map()
      unit.set(header[1], section)
      continue
    }
    const eq = line.indexOf('=')
    if (!section || eq < 0) throw new Error(`not a unit line: ${line}`)
    const key = line.slice(0, eq).trim()
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()])
  }
  return unit
}

function readUnit(name: string): Unit {
  return parseUnit(fs.readFileSync(path.join(unitDir, name), 'utf8'))
}

function value(unit: Unit, section: string, key: string): string | undefined {
  const values = unit.get(section)?.get(key)
  return values?.[values.length - 1]
}

/** systemd time spans as used here: "150", "150s", "2min 30s", "5min". */
function seconds(span: string): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 }
  let total = 0
  const parts = span.replace(/\s+/g, '').match(/\d+[a-z]*/g) ?? []
  for (const part of parts) {
    const [, n, unit] = /^(\d+)([a-z]*)$/.exec(part) ?? []
    if (units[unit] === undefined) throw new Error(`unknown time unit in ${span}`)
    total += Number(n) * units[unit]
  }
  return total
}

t.test('systemd: ota-gate.service runs as ota-gate, hardened, with a stop timeout for draining downloads', async (t) => {
  const unit = readUnit('ota-gate.service')
  const service = (key: string) => value(unit, 'Service', key)
  t.equal(service('User'), 'ota-gate')
  t.equal(service('Group'), 'ota-gate')
  t.equal(service('WorkingDirectory'), '/opt/ota-gate')
  t.equal(service('EnvironmentFile'), '/etc/ota-gate/ota-gate.env')
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.ok(service('ExecStart')?.endsWith(pkg.scripts.start), `ExecStart runs what npm start runs (${pkg.scripts.start})`)
  t.equal(service('Restart'), 'on-failure')
  t.ok(seconds(service('TimeoutStopSec') ?? '0') > 120, 'TimeoutStopSec leaves the 120 s drain room')
  for (const [key, expected] of Object.entries({
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    PrivateTmp: 'yes',
    ProtectHome: 'yes',
    PrivateDevices: 'yes',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectKernelLogs: 'yes',
    ProtectControlGroups: 'yes',
    RestrictNamespaces: 'yes',
    RestrictSUIDSGID: 'yes',
    LockPersonality: 'yes',
  })) {
    t.equal(service(key), expected, `${key}=${expected}`)
  }
  t.same(service('ReadWritePaths')?.split(/\s+/), ['/var/lib/ota-gate'], 'only the data folder is writable')
  t.same(service('RestrictAddressFamilies')?.split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX'])
  t.notOk(/^(yes|true|1|on)$/.test(service('MemoryDenyWriteExecute') ?? ''), "no MemoryDenyWriteExecute: V8's JIT needs it")
  t.equal(value(unit, 'Install', 'WantedBy'), 'multi-user.target')
})

t.test('systemd: the mirror service and its timer', async (t) => {
  const service = readUnit('ota-gate-mirror.service')
  t.equal(value(service, 'Service', 'Type'), 'oneshot')
  t.equal(value(service, 'Service', 'User'), 'ota-gate')
  t.equal(value(service, 'Service', 'EnvironmentFile'), '/etc/ota-gate/ota-gate.env')
  t.equal(value(service, 'Service', 'ProtectSystem'), 'strict')
  t.equal(value(service, 'Service', 'NoNewPrivileges'), 'yes')
  const timer = readUnit('ota-gate-mirror.timer')
  t.equal(value(timer, 'Timer', 'Unit'), 'ota-gate-mirror.service')
  const every = seconds(value(timer, 'Timer', 'OnUnitActiveSec') ?? '0')
  t.ok(every > 0 && every <= 600, `refreshes every few minutes (${every} s)`)
  t.equal(value(timer, 'Install', 'WantedBy'), 'timers.target')
})

const analyze = findProgram('systemd-analyze')
t.test('systemd: systemd-analyze verify accepts the units', { skip: !analyze && 'systemd-analyze is not installed' }, async (t) => {
  const names = ['ota-gate.service', 'ota-gate-mirror.service', 'ota-gate-mirror.timer']
  const result = await run(analyze ?? 'systemd-analyze', ['verify', ...names.map((n) => path.join(unitDir, n))])
  // Unknown keys and bad values are only warnings (exit 0): any line about our units is a failure.
  const ours = (result.stdout + result.stderr).split('\n').filter((line) => names.some((n) => line.includes(n)))
  t.same(ours, [], 'no warnings about our units')
  t.equal(result.code, 0, result.stderr)
})

// ---------------------------------------------------------------- git helpers

// Without the test runner's NODE_OPTIONS (its loaders), so node in the scripts starts as on a
// host, and without OTA_* settings of the shell that runs the tests.
const hostEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'NODE_OPTIONS' && !key.startsWith('OTA_')))
const gitEnv: NodeJS.ProcessEnv = {
  ...hostEnv,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
}

function git(cwd: string, ...args: string[]): string {
  const result = spawnSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`)
  return result.stdout.trim()
}

function commit(repo: string, name: string): string {
  fs.writeFileSync(path.join(repo, `${name}.txt`), `${name}\n`)
  git(repo, 'add', `${name}.txt`)
  git(repo, 'commit', '-q', '-m', name)
  return git(repo, 'rev-parse', 'HEAD')
}

t.test('systemd: the mirror service fetches the release branch and tags, and prunes', async (t) => {
  const dir = tempDir(t)
  const upstream = path.join(dir, 'firmware')
  git(dir, 'init', '-q', '-b', 'main', upstream)
  const first = commit(upstream, 'first')
  git(upstream, 'branch', 'production')
  git(upstream, 'tag', 'prod-apis')
  const mirror = path.join(dir, 'firmware.git')
  git(dir, 'init', '-q', '--bare', mirror)
  git(mirror, 'remote', 'add', 'origin', upstream)

  const unit = readUnit('ota-gate-mirror.service')
  const settings: Record<string, string> = { OTA_GIT_DIR: mirror, OTA_RELEASE_BRANCH: 'production' }
  const execStart = (value(unit, 'Service', 'ExecStart') ?? '').replace(/\$\{(\w+)\}/g, (_, name: string) => settings[name] ?? '')
  const [program, ...args] = execStart.split(/\s+/)
  const refresh = () => run(fs.existsSync(program) ? program : 'git', args, { env: gitEnv })

  let result = await refresh()
  t.equal(result.code, 0, `the fetch succeeds ${result.code ? result.stderr : ''}`)
  t.equal(git(mirror, 'rev-parse', 'refs/heads/production'), first)
  t.equal(git(mirror, 'rev-parse', 'refs/tags/prod-apis^{commit}'), first)
  t.equal(git(mirror, 'for-each-ref', '--format=%(refname)', 'refs/heads/main'), '', 'other branches are not mirrored')

  git(upstream, 'checkout', '-q', 'production')
  const second = commit(upstream, 'second')
  git(upstream, 'tag', 'prod-bombus')
  git(upstream, 'tag', '-d', 'prod-apis')
  result = await refresh()
  t.equal(result.code, 0, `the second fetch succeeds ${result.code ? result.stderr : ''}`)
  t.equal(git(mirror, 'rev-parse', 'refs/heads/production'), second)
  t.equal(git(mirror, 'rev-parse', 'refs/tags/prod-bombus^{commit}'), second)
  t.equal(git(mirror, 'for-each-ref', '--format=%(refname)', 'refs/tags/prod-apis'), '', 'a tag deleted upstream is pruned')
})

// ---------------------------------------------------------------- shell scripts

const scripts = ['deploy.sh', 'install.sh'].map((s) => path.join(deployDir, s))

t.test('deploy scripts: executable, and bash parses them', async (t) => {
  for (const script of scripts) {
    const result = await run('bash', ['-n', script])
    t.equal(result.code, 0, `${path.basename(script)} parses ${result.stderr}`)
    t.ok(fs.statSync(script).mode & 0o100, `${path.basename(script)} is executable`)
  }
})

const shellcheck = findProgram('shellcheck')
t.test('deploy scripts: shellcheck finds nothing', { skip: !shellcheck && 'shellcheck is not installed' }, async (t) => {
  const result = await run(shellcheck ?? 'shellcheck', scripts)
  t.equal(result.code, 0, `shellcheck exits 0 ${result.stdout}`)
})

// ---------------------------------------------------------------- deploy.sh

interface Installation {
  dir: string
  seed: string
  install: string
  record: string
  envFile: string
  /** the commit installed at the start */
  installed: string
}

/** The installation of this file made by git once (createInstallation); each test works on a copy. */
let template: Installation | undefined

/**
 * An "origin" bare repository with main and production, and an installation cloned from
 * production: a copy of the file's template, whose remotes are made to name the copy's own origin
 * (from the test process a git process costs tens of milliseconds; a copy costs none).
 */
function makeInstallation(t: Teardown): Installation {
  template ??= createInstallation(tempDir(wholeFile))
  const from = template.dir
  const dir = tempDir(t)
  fs.cpSync(from, dir, { recursive: true })
  for (const repo of ['seed', 'install']) {
    const config = path.join(dir, repo, '.git', 'config')
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').split(from).join(dir))
  }
  const moved = (file: string) => path.join(dir, path.relative(from, file))
  return { ...template, dir, seed: moved(template.seed), install: moved(template.install), record: moved(template.record), envFile: moved(template.envFile) }
}

function createInstallation(dir: string): Installation {
  const origin = path.join(dir, 'origin.git')
  git(dir, 'init', '-q', '--bare', '-b', 'main', origin)
  const seed = path.join(dir, 'seed')
  git(dir, 'init', '-q', '-b', 'main', seed)
  git(seed, 'remote', 'add', 'origin', origin)
  commit(seed, 'zero')
  const installed = commit(seed, 'one')
  git(seed, 'push', '-q', 'origin', 'main', 'main:production')
  const install = path.join(dir, 'install')
  git(dir, 'clone', '-q', '-b', 'production', origin, install)
  const envFile = path.join(dir, 'ota-gate.env')
  fs.writeFileSync(
    envFile,
    ['# settings as systemd reads them', 'OTA_DATA_DIR="/srv/ota data"', 'GIT_SSH_COMMAND=ssh -i /etc/ota-gate/key -o IdentitiesOnly=yes', ''].join('\n')
  )
  return { dir, seed, install, record: path.join(dir, 'record.log'), envFile, installed }
}

/** Promotes a new commit on main to origin's production. */
function release(inst: Installation, name: string): string {
  const rev = commit(inst.seed, name)
  git(inst.seed, 'push', '-q', 'origin', 'main', 'main:production')
  return rev
}

function recorded(inst: Installation): string[] {
  return fs.existsSync(inst.record) ? fs.readFileSync(inst.record, 'utf8').trim().split('\n') : []
}

function deploy(inst: Installation, env: NodeJS.ProcessEnv): Promise<Finished> {
  // Each step records the commit it ran at, so the test sees what ran where, and
  // whether the env file's settings reached it (only migrate should get them).
  const note = (step: string) => `echo "${step} $(git rev-parse HEAD)\${OTA_DATA_DIR:+ saw settings}" >> '${inst.record}'`
  return run('bash', [path.join(deployDir, 'deploy.sh')], {
    env: {
      ...gitEnv,
      OTA_INSTALL_DIR: inst.install,
      OTA_ENV_FILE: inst.envFile,
      OTA_INSTALL_CMD: note('install'),
      OTA_MIGRATE_CMD: `echo "migrate $(git rev-parse HEAD) $OTA_DATA_DIR" >> '${inst.record}'`,
      OTA_RESTART_CMD: note('restart'),
      OTA_HEALTH_TRIES: '2',
      OTA_HEALTH_INTERVAL: '0.05',
      // These installations promote through a production branch, as docs/install.md describes.
      OTA_DEPLOY_BRANCH: 'production',
      ...env,
    },
  })
}

/** Stands in for ota-gate's /healthz: healthy unless the installation is at `badCommit`. */
async function healthServer(t: Teardown, inst: Installation, badCommit: string | 'always'): Promise<string> {
  const server = http.createServer((req, res) => {
    const head = git(inst.install, 'rev-parse', 'HEAD')
    const healthy = req.url === '/healthz' && badCommit !== 'always' && head !== badCommit
    const body = JSON.stringify(healthy ? { status: 'ok' } : { error: 'internal', message: 'broken build' })
    res.writeHead(healthy ? 200 : 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  const port = await listen(server)
  t.teardown(() => close(server))
  return `http://127.0.0.1:${port}/healthz`
}

t.test('deploy.sh: fast-forwards production, installs, migrates, restarts, checks health', async (t) => {
  const inst = makeInstallation(t)
  const target = release(inst, 'two')
  const port = new URL(await healthServer(t, inst, 'none')).port
  // No OTA_HEALTH_URL: the default is built from OTA_PORT in the env file.
  fs.appendFileSync(inst.envFile, `OTA_HOST=0.0.0.0\nOTA_PORT=${port}\n`)
  const result = await deploy(inst, {})
  t.equal(result.code, 0, result.stderr)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), target)
  t.same(recorded(inst), [`install ${target}`, `migrate ${target} /srv/ota data`, `restart ${target}`])
  t.match(result.stdout, /deployed/)
  t.match(result.stdout, new RegExp(`http://127\\.0\\.0\\.1:${port}/healthz`))

  const again = await deploy(inst, {})
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /nothing to do/)
  t.equal(recorded(inst).length, 3, 'nothing runs when already up to date')
})

t.test('deploy.sh: by default deploys main, the branch the guide clones, and says which it deploys', async (t) => {
  const inst = makeInstallation(t)
  // An installation cloned as docs/install.md says, from main.
  const fromMain = path.join(inst.dir, 'install-main')
  git(inst.dir, 'clone', '-q', '-b', 'main', path.join(inst.dir, 'origin.git'), fromMain)
  const target = release(inst, 'two')
  const result = await deploy({ ...inst, install: fromMain }, { OTA_DEPLOY_BRANCH: '', OTA_HEALTH_URL: await healthServer(t, { ...inst, install: fromMain }, 'none') })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /^deploy: deploying branch main of origin \(the default; OTA_DEPLOY_BRANCH names another\)$/m)
  t.equal(git(fromMain, 'rev-parse', 'HEAD'), target)

  const named = await deploy(inst, { OTA_HEALTH_URL: await healthServer(t, inst, 'none') })
  t.equal(named.code, 0, named.stderr)
  t.match(named.stdout, /^deploy: deploying branch production of origin \(OTA_DEPLOY_BRANCH\)$/m)
})

t.test('docs/install.md clones a branch this repository has, the one deploy.sh deploys by default', async (t) => {
  const guide = fs.readFileSync(path.join(root, 'docs', 'install.md'), 'utf8')
  const clone = /git clone --branch (\S+) /.exec(guide)
  t.ok(clone, 'the guide clones a named branch')
  const branch = clone?.[1] ?? ''
  const script = fs.readFileSync(path.join(deployDir, 'deploy.sh'), 'utf8')
  t.match(script, new RegExp(`readonly branch="\\$\\{OTA_DEPLOY_BRANCH:-${branch}\\}"`), 'deploy.sh deploys that branch by default')
  if (!fs.existsSync(path.join(root, '.git'))) return
  const refs = git(root, 'for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/remotes').split('\n').filter(Boolean)
  if (refs.length === 0) return t.comment('this checkout has no branch refs to compare with')
  t.ok(
    refs.some((r) => r === `refs/heads/${branch}` || r.endsWith(`/${branch}`)),
    `the repository has a branch ${branch} (${refs.length} refs)`
  )
})

t.test('deploy.sh: refuses a checkout on another branch', async (t) => {
  const inst = makeInstallation(t)
  release(inst, 'two')
  git(inst.install, 'checkout', '-q', '-b', 'hotfix')
  const result = await deploy(inst, { OTA_HEALTH_URL: await healthServer(t, inst, 'none') })
  t.equal(result.code, 1)
  t.match(result.stderr, /on 'hotfix', not 'production'; this deploys only production .*or set OTA_DEPLOY_BRANCH=hotfix/)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
  t.same(recorded(inst), [])
})

t.test('deploy.sh: refuses local changes to tracked files', async (t) => {
  const inst = makeInstallation(t)
  release(inst, 'two')
  fs.writeFileSync(path.join(inst.install, 'one.txt'), 'edited on the server\n')
  const result = await deploy(inst, { OTA_HEALTH_URL: await healthServer(t, inst, 'none') })
  t.equal(result.code, 1)
  t.match(result.stderr, /local changes/)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
  t.same(recorded(inst), [])
})

t.test('deploy.sh: refuses health-check settings that are not numbers, before anything changes', async (t) => {
  const inst = makeInstallation(t)
  release(inst, 'two')
  const url = await healthServer(t, inst, 'none')
  for (const [name, value, hint] of [
    ['OTA_HEALTH_TRIES', '0', /whole number of tries, 1 or more/],
    ['OTA_HEALTH_INTERVAL', 'two', /give seconds, e\.g\. 2 or 0\.5/],
    ['OTA_HEALTH_TIMEOUT', '0', /give seconds above 0/],
    ['OTA_HEALTH_TIMEOUT', '5s', /give seconds above 0/],
  ] as const) {
    const result = await deploy(inst, { OTA_HEALTH_URL: url, [name]: value })
    t.equal(result.code, 1, `${name}=${value}`)
    t.match(result.stderr, new RegExp(`${name} is '${value}'`))
    t.match(result.stderr, hint)
  }
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
  t.same(recorded(inst), [])
})

t.test('deploy.sh: a health answer that never ends fails its try at OTA_HEALTH_TIMEOUT, and the deploy rolls back', async (t) => {
  const inst = makeInstallation(t)
  const broken = release(inst, 'two')
  // The new commit's server sends its headers, then a byte every 100 ms for ever: no socket is
  // ever idle, so only a deadline on the whole answer ends the try.
  const timers = new Set<NodeJS.Timeout>()
  const server = http.createServer((_request, res) => {
    if (git(inst.install, 'rev-parse', 'HEAD') !== broken) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{')
    const timer = setInterval(() => res.write(' '), 100)
    timers.add(timer)
    res.on('close', () => clearInterval(timer))
  })
  const port = await listen(server)
  t.teardown(() => {
    timers.forEach(clearInterval)
    return close(server)
  })
  const result = await deploy(inst, { OTA_HEALTH_URL: `http://127.0.0.1:${port}/healthz`, OTA_HEALTH_TIMEOUT: '0.5' })
  t.equal(result.code, 3, result.stderr)
  t.match(result.stdout, /0\.5s each at most/)
  t.match(result.stderr, /did not answer 200/)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
})

t.test('deploy.sh: refuses when origin rewrote production (not a fast-forward)', async (t) => {
  const inst = makeInstallation(t)
  git(inst.seed, 'reset', '-q', '--hard', 'HEAD~1')
  const rewritten = commit(inst.seed, 'one-rewritten')
  git(inst.seed, 'push', '-q', '--force', 'origin', 'main:production')
  const result = await deploy(inst, { OTA_HEALTH_URL: await healthServer(t, inst, 'none') })
  t.equal(result.code, 1)
  t.match(result.stderr, /not a fast-forward/)
  t.match(result.stderr, new RegExp(rewritten))
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
  t.same(recorded(inst), [])
})

t.test('deploy.sh: a failed health check returns to the previous commit', async (t) => {
  const inst = makeInstallation(t)
  const broken = release(inst, 'two')
  const result = await deploy(inst, { OTA_HEALTH_URL: await healthServer(t, inst, broken) })
  t.equal(result.code, 3)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
  t.same(recorded(inst), [
    `install ${broken}`,
    `migrate ${broken} /srv/ota data`,
    `restart ${broken}`,
    `install ${inst.installed}`,
    `restart ${inst.installed}`,
  ])
  t.match(result.stderr, new RegExp(`did not answer 200`))
  t.match(result.stderr, new RegExp(`back at ${inst.installed} and healthy`))
})

t.test('deploy.sh: a failed migration returns to the previous commit', async (t) => {
  const inst = makeInstallation(t)
  const broken = release(inst, 'two')
  const result = await deploy(inst, {
    OTA_HEALTH_URL: await healthServer(t, inst, 'none'),
    OTA_MIGRATE_CMD: 'echo "migration 007 failed" >&2; exit 1',
  })
  t.equal(result.code, 3)
  t.match(result.stderr, /applying migrations failed/)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed)
  t.same(recorded(inst), [`install ${broken}`, `install ${inst.installed}`, `restart ${inst.installed}`])
})

t.test('deploy.sh: says so when even the previous commit does not come back', async (t) => {
  const inst = makeInstallation(t)
  release(inst, 'two')
  const result = await deploy(inst, { OTA_HEALTH_URL: await healthServer(t, inst, 'always') })
  t.equal(result.code, 4)
  t.match(result.stderr, /needs attention by hand/)
  t.equal(git(inst.install, 'rev-parse', 'HEAD'), inst.installed, 'the checkout is at the previous commit')
})

// ---------------------------------------------------------------- nginx

const firmware = Buffer.alloc(200_000)
for (let i = 0; i < firmware.length; i++) firmware[i] = (i * 7 + (i >> 8)) & 0xff

interface Backend {
  port: number
  /** true while a ?hold request has sent its first bytes and waits */
  holding: boolean
  release(): void
}

/**
 * Stands in for ota-gate: echoes what reached it, serves a binary with Range on
 * the binary paths, and with ?hold sends 1000 bytes then waits, so a test can
 * see whether nginx passes bytes on before the answer is complete.
 */
async function startBackend(t: Teardown): Promise<Backend> {
  const backend: Backend = { port: 0, holding: false, release: () => undefined }
  const server = http.createServer((req, res) => {
    let bodyBytes = 0
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://backend')
      const echo: Record<string, string> = {
        'x-echo-method': req.method ?? '',
        'x-echo-url': req.url ?? '',
        'x-echo-host': req.headers.host ?? '',
        'x-echo-xff': String(req.headers['x-forwarded-for'] ?? ''),
        'x-echo-real-ip': String(req.headers['x-real-ip'] ?? ''),
        'x-echo-proto': String(req.headers['x-forwarded-proto'] ?? ''),
        'x-echo-range': req.headers.range ?? '',
        'x-echo-if-range': String(req.headers['if-range'] ?? ''),
        'x-echo-body-bytes': String(bodyBytes),
      }
      const binary = /^\/(firmware(\.app)?\.bin|v1\/firmware\/[0-9a-f]+\.bin|v1\/arduino\/[a-z0-9_-]+)$/.test(url.pathname)
      if (!binary) {
        const body = JSON.stringify({ path: url.pathname })
        res.writeHead(200, { ...echo, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        return res.end(body)
      }
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      if (range) {
        const start = Number(range[1])
        const end = Math.min(Number(range[2]), firmware.length - 1)
        res.writeHead(206, {
          ...echo,
          'content-range': `bytes ${start}-${end}/${firmware.length}`,
          'content-length': end - start + 1,
          'accept-ranges': 'bytes',
        })
        return res.end(req.method === 'HEAD' ? undefined : firmware.subarray(start, end + 1))
      }
      res.writeHead(200, { ...echo, 'content-length': firmware.length, 'accept-ranges': 'bytes' })
      if (req.method === 'HEAD') return res.end()
      if (!url.searchParams.has('hold')) return res.end(firmware)
      res.write(firmware.subarray(0, 1000))
      backend.holding = true
      const finish = () => {
        clearTimeout(timer)
        backend.holding = false
        res.end(firmware.subarray(1000))
      }
      const timer = setTimeout(finish, 3000)
      backend.release = finish
    })
  })
  backend.port = await listen(server)
  t.teardown(() => close(server))
  return backend
}

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

function request(options: {
  port: number
  tls: boolean
  path: string
  method?: string
  headers?: Record<string, string | number>
  body?: Buffer
  onFirstData?: () => void
  /** the device's address: another loopback address than nginx's own 127.0.0.1 */
  localAddress?: string
}): Promise<Answer> {
  const agentless = {
    agent: false as const,
    host: '127.0.0.1',
    port: options.port,
    path: options.path,
    method: options.method ?? 'GET',
    localAddress: options.localAddress,
  }
  const headers = { host: 'ota.example.com', ...options.headers }
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => {
        if (chunks.length === 0) options.onFirstData?.()
        chunks.push(chunk)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    }
    const req = options.tls
      ? https.request({ ...agentless, headers, rejectUnauthorized: false, servername: 'localhost' }, onResponse)
      : http.request({ ...agentless, headers }, onResponse)
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer for ${options.path}`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

interface NginxPrefix {
  prefix: string
  args: string[]
}

/** A throwaway nginx prefix: certificate, a main config including a copy of ours with test paths and ports. */
async function nginxPrefix(
  t: Teardown & { ok(value: unknown, message: string): void },
  openssl: string,
  ports: { http: number; https: number; backend: number }
): Promise<NginxPrefix> {
  const prefix = tempDir(t)
  // Workers run as nobody when the master is root; they must reach the temp folders.
  fs.chmodSync(prefix, 0o755)
  const cert = path.join(prefix, 'cert.pem')
  const key = path.join(prefix, 'key.pem')
  const made = await run(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
  ])
  if (made.code !== 0) throw new Error(`openssl failed: ${made.stderr}`)

  let conf = fs.readFileSync(path.join(deployDir, 'nginx', 'ota-gate.conf'), 'utf8')
  const replace = (placeholder: string, replacement: string) => {
    t.ok(conf.includes(placeholder), `the config has the placeholder ${placeholder}`)
    conf = conf.split(placeholder).join(replacement)
  }
  replace('/etc/ssl/ota-gate/fullchain.pem', cert)
  replace('/etc/ssl/ota-gate/privkey.pem', key)
  replace('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.backend};`)
  replace('/var/www/acme', path.join(prefix, 'acme'))
  conf = conf.replace(/^(\s*)listen\s+([^;]+);/gm, (_, indent: string, spec: string) => {
    if (spec.includes('[::]')) return ''
    return spec.includes('ssl') ? `${indent}listen 127.0.0.1:${ports.https} ssl;` : `${indent}listen 127.0.0.1:${ports.http};`
  })
  fs.writeFileSync(path.join(prefix, 'ota-gate.conf'), conf)

  fs.mkdirSync(path.join(prefix, 'tmp'), { mode: 0o755 })
  const temp = (name: string) => path.join(prefix, 'tmp', name)
  fs.writeFileSync(
    path.join(prefix, 'nginx.conf'),
    [
      'worker_processes 1;',
      `error_log ${path.join(prefix, 'error.log')} warn;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${path.join(prefix, 'access.log')};`,
      `  client_body_temp_path ${temp('body')};`,
      `  proxy_temp_path ${temp('proxy')};`,
      `  fastcgi_temp_path ${temp('fastcgi')};`,
      `  uwsgi_temp_path ${temp('uwsgi')};`,
      `  scgi_temp_path ${temp('scgi')};`,
      `  include ${path.join(prefix, 'ota-gate.conf')};`,
      '}',
      '',
    ].join('\n')
  )
  const args = [
    '-p', prefix + '/',
    '-c', path.join(prefix, 'nginx.conf'),
    '-e', path.join(prefix, 'error.log'),
    '-g', `pid ${path.join(prefix, 'nginx.pid')}; daemon off;`,
  ]
  return { prefix, args }
}

async function waitForPort(port: number, deadline: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const nginx = findProgram('nginx')
const openssl = findProgram('openssl')
const nginxMissing = !nginx ? 'nginx is not installed (apt-get install nginx-light)' : !openssl ? 'openssl is not installed' : false

t.test('nginx: nginx -t accepts deploy/nginx/ota-gate.conf', { skip: nginxMissing }, async (t) => {
  const ports = { http: await freePort(), https: await freePort(), backend: await freePort() }
  const { args } = await nginxPrefix(t, openssl ?? 'openssl', ports)
  const result = await run(nginx ?? 'nginx', [...args, '-t'])
  t.equal(result.code, 0, `nginx -t exits 0 ${result.code ? result.stderr : ''}`)
  t.match(result.stderr, /syntax is ok/)
  t.notMatch(result.stderr, /\[(warn|emerg)\]/, 'no warnings')
})

t.test('nginx: in front of a stand-in backend, device paths, Range, client address, redirects', { skip: nginxMissing }, async (t) => {
  const backend = await startBackend(t)
  const ports = { http: await freePort(), https: await freePort(), backend: backend.port }
  const { args, prefix } = await nginxPrefix(t, openssl ?? 'openssl', ports)
  const server = spawn(nginx ?? 'nginx', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let serverErr = ''
  server.stderr.on('data', (chunk: Buffer) => (serverErr += chunk.toString()))
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()))
  t.teardown(async () => {
    server.kill('SIGTERM')
    const killer = setTimeout(() => server.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(killer)
  })
  try {
    await waitForPort(ports.http, Date.now() + 5000)
    await waitForPort(ports.https, Date.now() + 5000)
  } catch (err) {
    const log = fs.existsSync(path.join(prefix, 'error.log')) ? fs.readFileSync(path.join(prefix, 'error.log'), 'utf8') : ''
    throw new Error(`${(err as Error).message}: ${serverErr}${log}`)
  }
  const plain = (p: string, more: Partial<Parameters<typeof request>[0]> = {}) => request({ port: ports.http, tls: false, path: p, ...more })
  const secure = (p: string, more: Partial<Parameters<typeof request>[0]> = {}) => request({ port: ports.https, tls: true, path: p, ...more })

  await t.test('legacy /firmware.json over plain HTTP, client address replaces a forged one', async (t) => {
    const res = await plain('/firmware.json', { headers: { 'x-forwarded-for': '203.0.113.9' }, localAddress: '127.0.0.2' })
    t.equal(res.status, 200)
    t.same(JSON.parse(res.body.toString()), { path: '/firmware.json' })
    t.equal(res.headers['x-echo-xff'], '127.0.0.2', "the device's address, not nginx's nor the forged one")
    t.equal(res.headers['x-echo-real-ip'], '127.0.0.2')
    t.equal(res.headers['x-echo-proto'], 'http')
    t.equal(res.headers['x-echo-host'], 'ota.example.com')
    t.equal(res.headers['content-length'], String(res.body.length))
    t.notOk(res.headers['transfer-encoding'], 'not chunked')
  })

  await t.test('Range and If-Range pass through to the backend and back', async (t) => {
    const sha = 'ab'.repeat(32)
    const res = await plain(`/v1/firmware/${sha}.bin`, { headers: { range: 'bytes=100-199', 'if-range': `"${sha}"` } })
    t.equal(res.status, 206)
    t.equal(res.headers['content-range'], `bytes 100-199/${firmware.length}`)
    t.equal(res.headers['content-length'], '100')
    t.ok(res.body.equals(firmware.subarray(100, 200)), 'the requested bytes')
    t.equal(res.headers['x-echo-range'], 'bytes=100-199')
    t.equal(res.headers['x-echo-if-range'], `"${sha}"`)
    const head = await secure(`/v1/firmware/${sha}.bin`, { method: 'HEAD' })
    t.equal(head.status, 200)
    t.equal(head.headers['x-echo-method'], 'HEAD', 'HEAD reaches the backend as HEAD')
    t.equal(head.headers['content-length'], String(firmware.length))
  })

  await t.test('binaries stream through unbuffered, whole and with Content-Length', async (t) => {
    for (const p of ['/firmware.app.bin', '/firmware.bin', `/v1/firmware/${'cd'.repeat(32)}.bin`, '/v1/arduino/esp32cam']) {
      let passedOnWhileHeld = false
      const res = await plain(`${p}?hold=1`, {
        headers: { 'x-esp32-sta-mac': 'AA:BB:CC:DD:EE:FF' },
        onFirstData: () => {
          passedOnWhileHeld = backend.holding
          backend.release()
        },
      })
      t.equal(res.status, 200, p)
      t.ok(passedOnWhileHeld, `${p}: the first bytes reached the device before the backend finished`)
      t.equal(res.headers['content-length'], String(firmware.length), `${p}: Content-Length`)
      t.notOk(res.headers['transfer-encoding'], `${p}: not chunked`)
      t.ok(res.body.equals(firmware), `${p}: every byte`)
    }
  })

  await t.test("Arduino's HTTP/1.0 request gets Content-Length, not chunks", async (t) => {
    // HTTPUpdate speaks HTTP/1.0, which node's client cannot send: write it by hand.
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(ports.http, '127.0.0.1', () => {
        socket.write(
          'GET /v1/arduino/esp32cam HTTP/1.0\r\nHost: ota.example.com\r\nUser-Agent: ESP32-http-Update\r\n' +
            'Connection: close\r\nx-ESP32-STA-MAC: AA:BB:CC:DD:EE:FF\r\nx-ESP32-version: mason\r\n\r\n'
        )
      })
      const chunks: Buffer[] = []
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer to the HTTP/1.0 request')))
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('end', () => resolve(Buffer.concat(chunks)))
      socket.on('error', reject)
    })
    const split = raw.indexOf('\r\n\r\n')
    const head = raw.subarray(0, split).toString()
    t.match(head, /^HTTP\/1\.[01] 200 /)
    t.match(head, new RegExp(`\r\ncontent-length: ${firmware.length}\r\n`, 'i'))
    t.notMatch(head, /transfer-encoding/i)
    t.match(head, /\r\nx-echo-xff: 127\.0\.0\.1\r\n/i)
    t.ok(raw.subarray(split + 4).equals(firmware), 'every byte')
  })

  await t.test('other device paths answer on plain HTTP', async (t) => {
    const manifest = await plain('/v1/manifest?board=esp32cam&device=aabbccddeeff&version=mason&sequence=3')
    t.equal(manifest.status, 200)
    t.equal(manifest.headers['x-echo-url'], '/v1/manifest?board=esp32cam&device=aabbccddeeff&version=mason&sequence=3')
    const report = await plain('/v1/devices/aabbccddeeff/reports', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"status":"booted","version":"mason","sequence":3}'),
    })
    t.equal(report.status, 200)
    t.equal(report.headers['x-echo-method'], 'POST')
    t.equal((await plain('/v1/keys')).status, 200)
    t.equal((await plain('/healthz')).status, 200)
  })

  await t.test('other paths: plain HTTP redirects to HTTPS, HTTPS proxies', async (t) => {
    const redirected = await plain('/v1/releases?board=esp32cam', { headers: { authorization: 'Bearer x' } })
    t.equal(redirected.status, 301)
    t.equal(redirected.headers.location, 'https://ota.example.com/v1/releases?board=esp32cam')
    t.notOk(redirected.headers['x-echo-url'], 'the backend never saw it')
    const proxied = await secure('/v1/releases?board=esp32cam')
    t.equal(proxied.status, 200)
    t.equal(proxied.headers['x-echo-proto'], 'https')
    t.equal(proxied.headers['x-echo-url'], '/v1/releases?board=esp32cam')
    const legacy = await secure('/firmware.json')
    t.equal(legacy.status, 200)
    t.equal(legacy.headers['x-echo-proto'], 'https')
  })

  await t.test('uploads up to 16 MiB reach the backend; larger ones are refused', async (t) => {
    const body = Buffer.alloc(3 * 1024 * 1024, 0xe9)
    const stored = await secure('/v1/artifacts/' + 'ef'.repeat(32), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      body,
    })
    t.equal(stored.status, 200)
    t.equal(stored.headers['x-echo-body-bytes'], String(body.length))
    // nginx judges by Content-Length before reading the body, so none is sent.
    const refused = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          agent: false, host: '127.0.0.1', port: ports.https, path: '/v1/artifacts/' + '01'.repeat(32), method: 'PUT',
          rejectUnauthorized: false,
          headers: { host: 'ota.example.com', 'content-length': 17 * 1024 * 1024 },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
          req.destroy()
        }
      )
      req.setTimeout(10_000, () => req.destroy(new Error('no answer to the large upload')))
      req.on('error', reject)
      req.flushHeaders()
    })
    t.equal(refused, 413)
  })
})
