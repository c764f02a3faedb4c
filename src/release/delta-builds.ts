import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { Worker } from 'node:worker_threads'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config'
import type { Repositories } from '../repositories'
import type { Release } from '../repositories/release-rows'
import type { ArtifactStore } from '../store/artifact-store'
import type { DeltaBuildInput, DeltaBuildOutput } from './delta-build-worker'
import { workerBoot } from '../worker-threads'

/** A base more than this share of a board's devices runs gets a patch at publish, however old. */
export const POPULAR_BASE_SHARE = 0.05

export interface DeltaBuildDeps {
  repos: Repositories
  artifacts: ArtifactStore
  config: Pick<Config, 'OTA_DELTA_BASES' | 'OTA_DELTA_BUILD_TIMEOUT_MS' | 'OTA_MAX_ARTIFACT_BYTES' | 'OTA_DEVICE_AUTH'>
  log: FastifyBaseLogger
}

interface Job {
  board: string
  base: string
  target: string
}

const WORKER_BOOT = workerBoot(__filename, 'delta-build-worker')

/**
 * Builds delta patches one at a time in a worker thread, so polls never wait for one: ahead of
 * demand when a release is published, and for other bases the first time a device running one asks.
 * Each (base, target) pair is claimed once in the database, so a build is never started twice.
 */
export class DeltaBuilds {
  private readonly queue: Job[] = []
  private current: Promise<void> | undefined
  private worker: Worker | undefined
  private closed = false
  private idleWaiters: Array<() => void> = []

  constructor(private readonly deps: DeltaBuildDeps) {}

  /** Queues patches to a newly published release from its board's recent and widely run releases. */
  async releasePublished(release: Release): Promise<void> {
    if (release.sha256 === null) return
    const bases = new Set<string>()
    const earlier = (await this.deps.repos.releases.list({ board: release.board }))
      .filter((r) => r.sha256 !== null && r.sequence < release.sequence)
      .sort((a, b) => b.sequence - a.sequence)
    for (const r of earlier.slice(0, this.deps.config.OTA_DELTA_BASES)) bases.add(r.sha256 as string)
    // Unproven check-ins must not choose which patches get built.
    const verifiedOnly = this.deps.config.OTA_DEVICE_AUTH !== 'off'
    for (const sha of await this.deps.repos.deltaPatches.popularBases(release.board, POPULAR_BASE_SHARE, verifiedOnly)) {
      if (sha !== release.sha256) bases.add(sha)
    }
    for (const base of bases) await this.request({ board: release.board, base, target: release.sha256 })
  }

  /** Queues the pair unless it was built or started before. Returns at once. */
  async request(job: Job): Promise<void> {
    if (this.closed) return
    if (!(await this.deps.repos.deltaPatches.claimBuild(job))) return
    this.enqueue(job)
  }

  /** Builds left half-done by a stopped server start again. */
  async resume(): Promise<void> {
    for (const row of await this.deps.repos.deltaPatches.unfinished()) {
      this.enqueue({ board: row.board, base: row.base_sha256, target: row.target_sha256 })
    }
  }

  /** Resolves once nothing is queued or building. */
  idle(): Promise<void> {
    if (this.current === undefined && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Stops the build under way (it starts again at the next start) and takes no more. */
  async close(): Promise<void> {
    this.closed = true
    this.queue.length = 0
    await this.worker?.terminate()
    await this.current
  }

  private enqueue(job: Job): void {
    this.queue.push(job)
    if (this.current === undefined) this.current = this.drain()
  }

  private async drain(): Promise<void> {
    do {
      for (let job = this.queue.shift(); job !== undefined && !this.closed; job = this.queue.shift()) {
        await this.build(job)
      }
      // The worker lives as long as the queue: its memory goes back once the burst is built. A job
      // queued while it stops is still this drain's (enqueue starts no other while one runs).
      await this.worker?.terminate()
      this.worker = undefined
    } while (this.queue.length > 0 && !this.closed)
    this.current = undefined
    for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private async build(job: Job): Promise<void> {
    const { repos, artifacts, log } = this.deps
    const context = { board: job.board, base: job.base, target: job.target }
    try {
      const input: DeltaBuildInput = { base: await artifacts.read(job.base), target: await artifacts.read(job.target) }
      const result = await this.inWorker(input)
      if (this.closed) return
      if (!result.ok) {
        await repos.deltaPatches.markFailed(job.base, job.target, result.error)
        log.warn({ ...context, error: result.error }, 'delta patch build failed')
        return
      }
      const patch = Buffer.from(result.patch.buffer, result.patch.byteOffset, result.patch.byteLength)
      const sha256 = createHash('sha256').update(patch).digest('hex')
      await artifacts.put(sha256, Readable.from([patch]), Math.max(patch.length, this.deps.config.OTA_MAX_ARTIFACT_BYTES))
      await repos.deltaPatches.markReady(job.base, job.target, { sha256, size: patch.length, buildMs: result.ms })
      log.info({ ...context, size: patch.length, target_size: input.target.length, ms: result.ms }, 'delta patch built')
    } catch (err) {
      if (this.closed) return
      await repos.deltaPatches.markFailed(job.base, job.target, (err as Error).message)
      log.error({ ...context, err }, 'delta patch build failed')
    }
  }

  private inWorker(input: DeltaBuildInput): Promise<DeltaBuildOutput> {
    const worker = this.worker ?? new Worker(WORKER_BOOT, { eval: true })
    this.worker = worker
    return new Promise((resolve) => {
      const settle = (result: DeltaBuildOutput, broken: boolean) => {
        clearTimeout(timer)
        worker.off('message', onMessage).off('error', onError).off('exit', onExit)
        if (broken) {
          // A worker that failed or ran out of time is not reused.
          if (this.worker === worker) this.worker = undefined
          void worker.terminate()
        }
        resolve(result)
      }
      const onMessage = (result: DeltaBuildOutput) => settle(result, false)
      const onError = (err: Error) => settle({ ok: false, error: err.message }, true)
      const onExit = (code: number) => settle({ ok: false, error: `the build worker stopped (exit code ${code})` }, true)
      const timer = setTimeout(
        () => settle({ ok: false, error: `build took longer than ${this.deps.config.OTA_DELTA_BUILD_TIMEOUT_MS} ms (OTA_DELTA_BUILD_TIMEOUT_MS)` }, true),
        this.deps.config.OTA_DELTA_BUILD_TIMEOUT_MS
      )
      worker.on('message', onMessage).on('error', onError).on('exit', onExit)
      worker.postMessage(input)
    })
  }
}
