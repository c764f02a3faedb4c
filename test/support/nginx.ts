import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { tempDir, type TestContext } from './server'

const run = promisify(execFile)

/** The nginx binary: on PATH, or where Debian puts it (/usr/sbin is not on a user's PATH). */
export function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  return dirs.map((d) => path.join(d, 'nginx')).find((f) => fs.existsSync(f))
}

export const nginxMissing: string | false = findNginx() ? false : 'nginx is not installed (apt-get install nginx-light)'

export interface RunningNginx {
  prefix: string
  /** nginx's own error log so far, for failure messages */
  errors(): string
  stop(): Promise<void>
}

/** A throwaway prefix with the temp folders nginx writes, readable by its workers (nobody when run as root). */
export function nginxPrefix(t: TestContext): string {
  const prefix = tempDir(t, 'ota-gate-nginx-')
  fs.chmodSync(prefix, 0o755)
  fs.mkdirSync(path.join(prefix, 'tmp'), { mode: 0o755 })
  return prefix
}

/** The main configuration around `httpBlock` (server blocks, includes), with every path under `prefix`. */
function mainConf(prefix: string, httpBlock: string): string {
  const temp = (name: string) => path.join(prefix, 'tmp', name)
  return [
    'worker_processes 1;',
    'daemon off;',
    `pid ${path.join(prefix, 'nginx.pid')};`,
    `error_log ${path.join(prefix, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${temp('body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    httpBlock,
    '}',
    '',
  ].join('\n')
}

function nginxArgs(prefix: string): string[] {
  return ['-p', prefix + '/', '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'error.log')]
}

/** `nginx -t` on the configuration: its exit code and what it printed. */
export async function testNginxConf(prefix: string, httpBlock: string): Promise<{ code: number; output: string }> {
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), mainConf(prefix, httpBlock))
  try {
    const { stdout, stderr } = await run(findNginx() as string, [...nginxArgs(prefix), '-t'])
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Starts nginx with `httpBlock` in `prefix` and waits until it accepts connections on `port`; stopped at teardown. */
export async function startNginx(t: TestContext, prefix: string, httpBlock: string, port: number): Promise<RunningNginx> {
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), mainConf(prefix, httpBlock))
  const child = spawn(findNginx() as string, nginxArgs(prefix), { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const errors = () => {
    const file = path.join(prefix, 'error.log')
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  t.teardown(stop)
  for (let i = 0; !(await portOpen(port)); i++) {
    if (child.exitCode !== null || i > 200) throw new Error(`nginx did not start: ${errors()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return { prefix, errors, stop }
}
