import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * The code a `new Worker(code, { eval: true })` runs to load module `name` beside `besideFile`
 * (the caller's `__filename`): the compiled .js next to it, or the .ts source where the source
 * itself runs. Loaded through require, so the worker runs under the same module loader as its caller.
 */
export function workerBoot(besideFile: string, name: string): string {
  return `require(${JSON.stringify(path.join(path.dirname(besideFile), `${name}${path.extname(besideFile)}`))})`
}

/**
 * Gives the calling thread the nice value `nice` (0–19): on Linux a thread has its own, so on a busy
 * core the event loop answering polls goes first. Elsewhere, or where it is not allowed, the thread
 * keeps the process's priority.
 */
export function lowerThisThreadPriority(nice: number): void {
  try {
    const tid = Number(/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'))?.[1])
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, nice)
  } catch {
    // No /proc (not Linux) or not allowed: the thread runs at the process's priority.
  }
}
