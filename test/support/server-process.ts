import { spawn } from 'node:child_process'
import path from 'node:path'
import type { TestContext } from './server'

const PROJECT = path.resolve(__dirname, '..', '..')

export interface ServerProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string
  dataDir: string
  pid: number
  /** pino log lines so far */
  lines(): Array<Record<string, unknown>>
  /** Sends the signal and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<void>
}

/**
 * The real server (createServer from src/server.ts) in its own process over `dataDir`, for
 * what an in-process server cannot show: its log as written, a kill -9, a restart over the same data.
 */
export async function startServerProcess(t: TestContext, dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  // createServer and listen, as src/server.ts's main() does, from a script rather than the .ts
  // entry point: under tap, NODE_OPTIONS gives every child an ESM loader that would load a .ts
  // entry as ESM, where src/server.ts does not see itself as the main module.
  const register = require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')
  const script = `
    const { loadConfig } = require('./src/config')
    const { createServer } = require('./src/server')
    const config = loadConfig()
    createServer(config).listen({ host: config.OTA_HOST, port: config.OTA_PORT }).catch((err) => { console.error(err); process.exit(1) })`
  const child = spawn(process.execPath, ['-r', register, '-e', script], {
    cwd: PROJECT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, OTA_DATA_DIR: dataDir, OTA_HOST: '127.0.0.1', OTA_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}${err}`)), 60_000)
    const look = () => {
      const listening = lines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at'))
      if (listening) {
        clearTimeout(timer)
        resolve(String(listening.msg).replace('Server listening at ', ''))
      }
    }
    child.stdout.on('data', look)
    child.on('exit', () => {
      clearTimeout(timer)
      reject(new Error(`the server exited: ${out}${err}`))
    })
  })
  return {
    url,
    dataDir,
    pid: child.pid ?? 0,
    lines,
    kill: async (signal) => {
      child.kill(signal)
      await exited
    },
  }
}
