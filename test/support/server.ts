import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
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

/** The database of each data folder a test server runs on PostgreSQL with: the CLI's data-folder commands go there too. */
const databaseOf = new Map<string, string>()

/** The settings the CLI's data-folder commands (token, keys, board…) need to act on the server's database. */
export function dataFolderEnv(dataDir: string): Record<string, string> {
  const url = databaseOf.get(dataDir)
  return url === undefined ? { OTA_DATA_DIR: dataDir } : { OTA_DATA_DIR: dataDir, OTA_DATABASE_URL: url }
}

export interface RunningServer {
  app: FastifyInstance
  config: Config
  /** e.g. http://127.0.0.1:40123 */
  url: string
  port: number
  dataDir: string
  close(): Promise<void>
}

/**
 * Starts the real server (createServer, as server.ts does) on a loopback port over a fresh data
 * folder. `env` adds or overrides OTA_* settings; pass `dataDir` to reuse a folder across restarts.
 */
export async function startServer(
  t: TestContext,
  env: Record<string, string> = {},
  dataDir?: string
): Promise<RunningServer> {
  const dir = dataDir ?? tempDir(t)
  const config = loadConfig({
    OTA_DATA_DIR: dir,
    OTA_HOST: '127.0.0.1',
    OTA_PORT: '0',
    OTA_LOG_LEVEL: 'silent',
    // The server shares its event loop with the test's own work (building images, hashing), which
    // load shedding would read as overload; the overload tests set these thresholds themselves.
    OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
    OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0',
    ...env,
  })
  if (config.OTA_DATABASE_URL !== undefined) databaseOf.set(dir, config.OTA_DATABASE_URL)
  const app = createServer(config)
  await app.listen({ host: config.OTA_HOST, port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('server did not listen on a TCP port')
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
  }
  t.teardown(close)
  return { app, config, url: `http://127.0.0.1:${address.port}`, port: address.port, dataDir: dir, close }
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
