import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import { parentPort } from 'node:worker_threads'
import { applyEspDeltaPatch, createEspDeltaPatch } from '../delta/esp-delta-patch'

// Runs in a worker thread: suffix sorting and bsdiff take seconds of CPU that must not hold up the
// event loop answering polls. The patch is applied once here before it is handed back, so a patch
// the server stores is known to rebuild the target exactly.

export interface DeltaBuildInput {
  base: Uint8Array
  target: Uint8Array
}

export type DeltaBuildOutput = { ok: true; patch: Uint8Array; ms: number } | { ok: false; error: string }

function build({ base, target }: DeltaBuildInput): DeltaBuildOutput {
  const started = performance.now()
  const baseBytes = Buffer.from(base.buffer, base.byteOffset, base.byteLength)
  const targetBytes = Buffer.from(target.buffer, target.byteOffset, target.byteLength)
  const patch = createEspDeltaPatch(baseBytes, targetBytes)
  const rebuilt = applyEspDeltaPatch(baseBytes, patch)
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  if (digest(rebuilt) !== digest(targetBytes)) return { ok: false, error: 'the patch does not rebuild the target' }
  return { ok: true, patch, ms: Math.round(performance.now() - started) }
}

/**
 * On Linux a thread has its own nice value: the build runs at the lowest priority, so that on a busy
 * core the event loop answering polls goes first. Elsewhere it runs at the process's priority.
 */
function yieldToPolls(): void {
  try {
    const tid = Number(/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'))?.[1])
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 19)
  } catch {
    // No /proc (not Linux) or not allowed: the build still runs, at normal priority.
  }
}

// One worker serves the builds of a burst (a publish queues several), one message each.
const port = parentPort
if (port) {
  yieldToPolls()
  port.on('message', (input: DeltaBuildInput) => {
    let result: DeltaBuildOutput
    try {
      result = build(input)
    } catch (err) {
      result = { ok: false, error: (err as Error).message }
    }
    port.postMessage(result, result.ok ? [result.patch.buffer as ArrayBuffer] : [])
  })
}
