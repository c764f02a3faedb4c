import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { applyEspDeltaPatch, createEspDeltaPatch } from '../delta/esp-delta-patch'
import { lowerThisThreadPriority } from '../worker-threads'

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


// One worker serves the builds of a burst (a publish queues several), one message each.
const port = parentPort
if (port) {
  // The lowest priority: a build can wait, polls cannot.
  lowerThisThreadPriority(19)
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
