import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { parseProcStatTicks } from './parsers'

/** The repository root, found from this file's place in src (bench/) or in the build (build/bench/bench/). */
export const PROJECT_ROOT = (() => {
  let dir = __dirname
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir)
    if (up === dir) throw new Error(`no package.json above ${__dirname}`)
    dir = up
  }
  return dir
})()

/**
 * With two or more cores, the process under test (our server, nginx, bare Fastify) gets core 1 and
 * the load generators core 0, so neither steals the other's CPU and every target is measured alike.
 */
const PINNED = os.cpus().length >= 2 && fs.existsSync('/usr/bin/taskset')
export const SERVER_CPU = '1'
export const LOAD_CPU = '0'

export interface Child {
  pid: number
  process: ChildProcess
  /** stdout and stderr so far */
  output(): string
  exited: Promise<number | null>
}

const running = new Set<Child>()

/**
 * Starts a command in its own process group (so that nginx's workers or a shell's children die with
 * it), optionally pinned to a core; every child is killed by killAll().
 */
export function start(command: string, args: string[], options: { cpu?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  const [cmd, argv] = PINNED && options.cpu !== undefined ? ['taskset', ['-c', options.cpu, command, ...args]] : [command, args]
  const proc = spawn(cmd, argv, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => resolve(code))
    proc.on('error', (err) => {
      out += `\n${err.message}`
      resolve(-1)
    })
  })
  if (proc.pid === undefined) throw new Error(`could not start ${command}`)
  const child: Child = { pid: proc.pid, process: proc, output: () => out, exited }
  running.add(child)
  void exited.then(() => running.delete(child))
  return child
}

/** Runs a command to its end within `timeoutMs`; rejects with its output on a non-zero exit or a timeout. */
export async function run(
  command: string,
  args: string[],
  options: { cpu?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string }
): Promise<string> {
  const child = start(command, args, options)
  const timer = setTimeout(() => stop(child), options.timeoutMs)
  const code = await child.exited
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${child.output().slice(-3000)}`)
  return child.output()
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`; resolves once it is gone. */
export async function stop(child: Child, graceMs = 3000): Promise<void> {
  if (!running.has(child)) return
  signalGroup(child, 'SIGTERM')
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs)
  await child.exited
  clearTimeout(timer)
  // nginx workers or grandchildren that outlived their leader
  signalGroup(child, 'SIGKILL')
}

function signalGroup(child: Child, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

/** Kills every child still running (synchronously, so it also works from an exit handler). */
export function killAll(): void {
  for (const child of running) signalGroup(child, 'SIGKILL')
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** One GET over a fresh connection: status and body. */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)))
  })
}

/** Waits until `url` answers 200, or fails with the child's output once it exits or `timeoutMs` passes. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let gone = false
  void child.exited.then(() => (gone = true))
  for (;;) {
    if (gone) throw new Error(`the process serving ${url} exited:\n${child.output().slice(-3000)}`)
    try {
      if ((await get(url)).status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${child.output().slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const CLOCK_TICKS_PER_S = 100 // USER_HZ, 100 on every Linux architecture Node runs on

/** CPU seconds used so far by `pid` and its direct children (nginx's workers), from /proc. */
export function cpuSeconds(pid: number): number {
  let children: number[] = []
  try {
    children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    // no children file: count the process alone
  }
  const ticks = [pid, ...children].reduce((sum, p) => sum + parseProcStatTicks(fs.readFileSync(`/proc/${p}/stat`, 'utf8')), 0)
  return ticks / CLOCK_TICKS_PER_S
}

/**
 * As cpuSeconds, plus what the children that already exited used: for a server that forks a
 * process a connection (PostgreSQL), whose count drops when a connection closes otherwise.
 */
export function cpuSecondsWithExited(pid: number): number {
  return cpuSeconds(pid) + parseProcStatTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), 'reaped') / CLOCK_TICKS_PER_S
}
