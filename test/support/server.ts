import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Clock } from '../../src/clock'
import { loadConfig, type Config } from '../../src/config'
import { createServer } from '../../src/server'
import { runCli } from '../../src/cli/main'
import { PassThrough } from 'node:stream'

export interface TestContext {
  teardown(fn: () => unknown): void
}

export function tempDir(t: TestContext, prefix = 'ota-gate-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The database of each data folder a test app runs on PostgreSQL with: the CLI's data-folder commands go there too. */
const databaseOf = new Map<string, string>()

/** The settings the CLI's data-folder commands (token, keys, board…) need to act on the app's database. */
export function dataFolderEnv(dataDir: string): Record<string, string> {
  const url = databaseOf.get(dataDir)
  return url === undefined ? { OTA_DATA_DIR: dataDir } : { OTA_DATA_DIR: dataDir, OTA_DATABASE_URL: url }
}

/** Where the app keeps its data (a fresh temporary folder unless given) and the clock it runs on. */
export interface AppOptions {
  /** reuse a data folder (a restart, a second instance, a seeded folder) */
  dataDir?: string
  /** the app's clock; the system clock unless given (see test/support/clock.ts) */
  clock?: Clock
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  dataDir: string
  close(): Promise<void>
}

export interface RunningServer extends TestApp {
  /** e.g. http://127.0.0.1:40123 */
  url: string
  port: number
}

/**
 * The settings a test app starts from: a loopback address, a quiet log, and no load shedding (the
 * app shares its event loop with the test's own work, building images and hashing, which it would
 * read as overload; the overload tests set those thresholds themselves). `env` adds or overrides.
 */
function testConfig(dataDir: string, env: Record<string, string>): Config {
  return loadConfig({
    OTA_DATA_DIR: dataDir,
    OTA_HOST: '127.0.0.1',
    OTA_PORT: '0',
    OTA_LOG_LEVEL: 'silent',
    OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
    OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0',
    ...env,
  })
}

/**
 * The app built exactly as server.ts builds it (createServer: same plugin, same config loading),
 * ready but not listening: requests go through Fastify's inject (see test/support/http.ts). For
 * every test where the socket does not matter; closed when the test ends.
 */
export async function buildApp(t: TestContext, env: Record<string, string> = {}, options: AppOptions = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? tempDir(t)
  const config = testConfig(dataDir, env)
  if (config.OTA_DATABASE_URL !== undefined) databaseOf.set(dataDir, config.OTA_DATABASE_URL)
  const app = createServer(config, options.clock)
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
  }
  t.teardown(close)
  await app.ready()
  return { app, config, dataDir, close }
}

/**
 * The same app listening on a loopback port, for tests where the socket matters (downloads, slow
 * clients, timeouts, shutdown, a proxy in front).
 */
export async function startServer(t: TestContext, env: Record<string, string> = {}, options: AppOptions = {}): Promise<RunningServer> {
  const built = await buildApp(t, env, options)
  await built.app.listen({ host: built.config.OTA_HOST, port: 0 })
  const address = built.app.server.address()
  if (!address || typeof address === 'string') throw new Error('server did not listen on a TCP port')
  return { ...built, url: `http://127.0.0.1:${address.port}`, port: address.port }
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** the last non-empty line of stdout */
  lastLine: string
}

/** Runs the command-line tool in-process with its own environment and captured output. */
export async function cli(argv: string[], env: Record<string, string | undefined>, cwd = process.cwd()): Promise<CliResult> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: Buffer[] = []
  const err: Buffer[] = []
  stdout.on('data', (c: Buffer) => out.push(c))
  stderr.on('data', (c: Buffer) => err.push(c))
  const code = await runCli(argv, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdout, stderr, cwd })
  const text = Buffer.concat(out).toString('utf8')
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  return { code, stdout: text, stderr: Buffer.concat(err).toString('utf8'), lastLine: lines[lines.length - 1] ?? '' }
}

/** Creates a token of `role` in the data folder, as an operator would with `ota-gate token create`. */
export async function createToken(dataDir: string, role: 'releaser' | 'operator' | 'admin', name: string = role): Promise<string> {
  const r = await cli(['token', 'create', '--role', role, '--name', name], dataFolderEnv(dataDir))
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`)
  return r.lastLine
}
