import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { TestContext } from './server'
import { uninstrumented } from './uninstrumented'

/** The checkout's root folder. */
export const PROJECT = path.resolve(__dirname, '..', '..')

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(file) : fs.statSync(file).mtimeMs)
  }
  return newest
}

/**
 * `npm run -s build` unless the last build is newer than every source file (npm test has just built).
 * The build's record, not dist/server.js: an incremental tsc rewrites only the outputs that changed,
 * and `npm run build` touches the record, which tsc leaves alone when no source's content changed.
 */
export function ensureBuilt(): void {
  const record = path.join(PROJECT, 'dist', '.tsbuildinfo')
  if (fs.existsSync(record) && fs.statSync(record).mtimeMs > newestSource(path.join(PROJECT, 'src'))) return
  execFileSync('npm', ['run', '-s', 'build'], { cwd: PROJECT, stdio: 'inherit' })
}

export interface FailedStart {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `node dist/server.js` with `env` when it is expected not to start: its exit code and output. */
export async function failedBuiltServerStart(env: Record<string, string>): Promise<FailedStart> {
  ensureBuilt()
  const child = spawn(...uninstrumented(process.execPath, [path.join(PROJECT, 'dist', 'server.js')]), {
    cwd: PROJECT,
    env: { PATH: process.env.PATH, OTA_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export interface BuiltServer {
  url: string
  dataDir: string
  pid: number
  /** The pino log lines the server has written so far. */
  lines(): Array<Record<string, unknown>>
  /** Everything it has written to stdout so far, as written. */
  output(): string
  /** Sends the signal; resolves with the exit code once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<number | null>
  /** Resolves with the exit code when the process ends by itself. */
  exited: Promise<number | null>
}

/**
 * `node dist/server.js` exactly as production runs it (its own process, main(), close-with-grace),
 * on a free loopback port over `dataDir`, once it answers /healthz: for what an in-process server
 * cannot show (its log as written, a kill -9, a restart over the same data, shutdown).
 */
export async function startBuiltServer(t: TestContext, dataDir: string, env: Record<string, string> = {}): Promise<BuiltServer> {
  ensureBuilt()
  const port = await freePort()
  const child = spawn(...uninstrumented(process.execPath, [path.join(PROJECT, 'dist', 'server.js')]), {
    cwd: PROJECT,
    env: { PATH: process.env.PATH, OTA_DATA_DIR: dataDir, OTA_HOST: '127.0.0.1', OTA_PORT: String(port), OTA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const url = `http://127.0.0.1:${port}`
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`dist/server.js exited with ${child.exitCode}`)
    const up = await fetch(`${url}/healthz`).then((r) => r.ok, () => false)
    if (up) break
    if (tries > 600) throw new Error('dist/server.js did not answer /healthz within 60 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    dataDir,
    pid: child.pid ?? 0,
    lines,
    output: () => out,
    exited,
    kill: async (signal) => {
      child.kill(signal)
      return exited
    },
  }
}
