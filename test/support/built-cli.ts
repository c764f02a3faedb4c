import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { PROJECT, ensureBuilt } from './built-server'
import { uninstrumented } from './uninstrumented'

// The command-line tool as users run it: `node dist/cli/main.js` in its own process, with only the
// environment given (and PATH), for what the in-process `cli` of support/server.ts cannot show: its
// exit status as a process, and a kill -9 in the middle of a command.

export interface BuiltCliRun {
  child: ChildProcess
  /** resolves once the process has ended */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
}

/** Starts `ota-gate <args>` from dist/ (built first if stale). */
export function spawnBuiltCli(args: string[], env: Record<string, string>): BuiltCliRun {
  ensureBuilt()
  const child = spawn(...uninstrumented(process.execPath, [path.join(PROJECT, 'dist', 'cli', 'main.js'), ...args]), {
    cwd: PROJECT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  return { child, done }
}

/** Runs `ota-gate <args>` to its end: exit code and output. */
export function runBuiltCli(args: string[], env: Record<string, string>) {
  return spawnBuiltCli(args, env).done
}
