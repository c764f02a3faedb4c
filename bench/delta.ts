import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { GenerateResult } from './delta-generate'
import type { PollResult } from './manifest-poller'
import { makeCredentials, publishImage, startOtaServer } from './ota-server'
import { LOAD_CPU, PROJECT_ROOT, freePort, get, run, stop } from './processes'
import { buildEspImage, reviseEspImage, smallCodeChange } from '../test/support/esp-image-builder'

// Scenario 6, delta updates: how long a patch of a 1.5 MB image takes to make and how much memory,
// how big it is for a small and a large change, what building patches in the server does to poll
// latency (the same open-loop poller with and without builds running), and how fast the firmware's
// C++ applier rebuilds an image on this host.

export interface DeltaResults {
  image_bytes: number
  small_change: GenerateResult & { fraction: number }
  large_change: GenerateResult & { fraction: number }
  manifest_p99_ms_idle: number
  manifest_p99_ms_during_builds: number
  manifest_p99_ratio: number
  manifest_polls: number
  manifest_errors: number
  /** patch builds the server ran (all of them inside the measured window) and how long they took together */
  builds: number
  builds_ms: number
  builds_pending_at_end: number
  applier: { bytes_out: number; seconds: number; mb_per_s: number; state_bytes: number } | { unavailable: string }
}

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)

async function childJson<T>(script: string, args: Array<string | number>, timeoutMs: number): Promise<T> {
  const out = await run(process.execPath, [path.join(__dirname, script), ...args.map(String)], { cpu: LOAD_CPU, timeoutMs })
  return JSON.parse(out.trim().split('\n').pop() ?? '') as T
}

interface PatchRow {
  state: string
  build_ms: number | null
}

async function patchesOf(base: string, operator: string, version: string): Promise<PatchRow[]> {
  const r = await get(`${base}/v1/releases/esp32cam/${version}`, { authorization: `Bearer ${operator}` })
  return (JSON.parse(r.body.toString()) as { delta: { patches: PatchRow[] } }).delta.patches
}

/** The firmware's host tool, built if the firmware tree has it; what it says about one apply. */
async function cppApplier(dir: string): Promise<DeltaResults['applier']> {
  const tool = path.join(PROJECT_ROOT, 'firmware', 'build', 'delta_apply_bench')
  try {
    await run('make', ['-s', '-C', path.join(PROJECT_ROOT, 'firmware'), 'build/delta_apply_bench'], { timeoutMs: 600_000 })
  } catch (err) {
    return { unavailable: `make -C firmware build/delta_apply_bench failed: ${(err as Error).message.slice(0, 300)}` }
  }
  if (!fs.existsSync(tool)) return { unavailable: `${tool} was not built` }
  const out = await run(tool, [path.join(dir, 'base.bin'), path.join(dir, 'patch.bin'), '--repeat', '5'], { cpu: LOAD_CPU, timeoutMs: 300_000 })
  const result = JSON.parse(out.trim().split('\n').pop() ?? '') as { bytes_out: number; seconds: number; mb_per_s: number; state_bytes: number; sha256?: string }
  const expected = fs.readFileSync(path.join(dir, 'new.bin'))
  const digest = crypto.createHash('sha256').update(expected).digest('hex')
  if (result.sha256 !== undefined && result.sha256 !== digest) throw new Error(`the C++ applier rebuilt an image with SHA-256 ${result.sha256}, not ${digest}`)
  return { bytes_out: result.bytes_out, seconds: result.seconds, mb_per_s: result.mb_per_s, state_bytes: result.state_bytes }
}

export async function deltaScenario(work: string, imageSize: number, seconds: number, pollRate: number, pollerDevices: number): Promise<DeltaResults> {
  const dir = path.join(work, 'delta')
  fs.mkdirSync(dir)
  const small = await childJson<GenerateResult>('delta-generate.js', [imageSize, 'small', dir], 300_000)
  const large = await childJson<GenerateResult>('delta-generate.js', [imageSize, 'large'], 300_000)
  log(`delta: small change ${small.patch_bytes} bytes in ${small.ms} ms (peak ${small.peak_rss_mb} MB), large change ${large.patch_bytes} bytes in ${large.ms} ms (peak ${large.peak_rss_mb} MB)`)

  // A server of its own: four releases, each a small change of the one before. Publishing the last
  // three queues 1 + 2 + 3 patch builds (OTA_DELTA_BASES=3), run one after another in its worker.
  const dataDir = path.join(dir, 'data')
  fs.mkdirSync(dataDir)
  const port = await freePort()
  const server = await startOtaServer(dataDir, port)
  try {
    const creds = await makeCredentials(dataDir)
    const images = [buildEspImage({ version: 'd1', size: imageSize })]
    for (let i = 1; i < 4; i++) images.push(reviseEspImage(images[i - 1], (code) => smallCodeChange(code, i)))
    await publishImage(server.base, creds, 'd1', 1, images[0])
    const idle = await childJson<PollResult>('manifest-poller.js', [server.base, pollRate, seconds, pollerDevices], (seconds + 60) * 1000)
    for (let i = 1; i < 4; i++) await publishImage(server.base, creds, `d${i + 1}`, i + 1, images[i])
    const busy = await childJson<PollResult>('manifest-poller.js', [server.base, pollRate, seconds, pollerDevices + 1_000_000], (seconds + 60) * 1000)
    const rows = (await Promise.all(['d2', 'd3', 'd4'].map((v) => patchesOf(server.base, creds.operator, v)))).flat()
    const pending = rows.filter((r) => r.state === 'building').length
    log(`delta: manifest p99 ${idle.p99Ms.toFixed(2)} ms idle, ${busy.p99Ms.toFixed(2)} ms while building; ${pending} of ${rows.length} builds still pending at the end`)
    const applier = await cppApplier(dir)
    log(`delta: C++ applier ${JSON.stringify(applier)}`)
    const fraction = (g: GenerateResult) => Math.round((g.patch_bytes / g.image_bytes) * 10_000) / 10_000
    return {
      image_bytes: small.image_bytes,
      small_change: { ...small, fraction: fraction(small) },
      large_change: { ...large, fraction: fraction(large) },
      manifest_p99_ms_idle: Math.round(idle.p99Ms * 100) / 100,
      manifest_p99_ms_during_builds: Math.round(busy.p99Ms * 100) / 100,
      manifest_p99_ratio: Math.round((busy.p99Ms / Math.max(idle.p99Ms, 0.001)) * 100) / 100,
      manifest_polls: idle.requests + busy.requests,
      manifest_errors: idle.errors + idle.non2xx + busy.errors + busy.non2xx,
      builds: rows.length,
      builds_ms: rows.reduce((n, r) => n + (r.build_ms ?? 0), 0),
      builds_pending_at_end: pending,
      applier,
    }
  } finally {
    await stop(server.child, 30_000)
  }
}

