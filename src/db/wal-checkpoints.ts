import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import type { Database } from 'better-sqlite3'
import { PAGE_BYTES, WAL_BOUND_PAGES, WAL_CHECKPOINT_PAGES } from './open'
import type { CheckpointWorkerData } from './wal-checkpoint-worker'
import { workerBoot } from '../worker-threads'

export interface WalCheckpointOptions {
  /** how often the worker copies the WAL back, ms */
  everyMs: number
  /** how often the WAL's size is looked at until the worker runs, ms */
  watchMs: number
  /** WAL bytes from which the worker takes checkpoints over */
  startAtBytes: number
  /** WAL pages from which the worker, once it has copied them back, makes the WAL start over */
  restartAtPages: number
  /**
   * WAL pages at which a commit on the event loop checkpoints after all, while the worker runs:
   * the bound on the WAL when the worker falls behind
   */
  backstopPages: number
}

/**
 * A quarter of a second of polls at 12,000 a second leaves some 6,000 pages to copy; the worker
 * starts once the WAL has held 1,000 pages, so a server that writes little (and most tests) never
 * starts a thread for it.
 */
export const WAL_CHECKPOINTS: WalCheckpointOptions = {
  everyMs: 250,
  watchMs: 100,
  startAtBytes: 1000 * PAGE_BYTES,
  // Without it, 10,000 refreshes a second of random devices grew the WAL to 784 MB in 20 s
  // (2 cores), as it never started over; with it, to 22–27 MB.
  restartAtPages: WAL_CHECKPOINT_PAGES,
  // For a worker that cannot keep up (a saturated core): a commit on the event loop finds no other
  // writer, copies the rest back and lets the WAL start over.
  backstopPages: WAL_BOUND_PAGES,
}

const WORKER_BOOT = workerBoot(__filename, 'wal-checkpoint-worker')

/**
 * Moves SQLite's checkpoints off the event loop once the database is written to in earnest. A
 * checkpoint copies thousands of pages and fsyncs the database file; run by a commit on the event
 * loop, as SQLite does, it held every request meanwhile: steady polls in id order had a 99th
 * percentile of 135–204 ms that way, 15–100 ms with a worker (npm run bench; README, Performance).
 * A worker thread with its own connection runs them instead (PASSIVE: they wait for no reader or
 * writer; past `restartAtPages` it also makes the WAL start over), and the event loop's
 * connection checkpoints only past `backstopPages`, so the WAL stays bounded when the worker
 * cannot keep up. Durability is unchanged: a commit is in the WAL before it returns either way.
 */
export class WalCheckpoints {
  private worker: Worker | undefined
  private readonly watch: NodeJS.Timeout
  private closed = false
  private failure: ((err: Error) => void) | undefined

  constructor(
    private readonly db: Database,
    private readonly options: WalCheckpointOptions = WAL_CHECKPOINTS
  ) {
    const wal = `${db.name}-wal`
    this.watch = setInterval(() => {
      fs.stat(wal, (err, stats) => {
        if (!err && stats.size >= options.startAtBytes) this.start()
      })
    }, options.watchMs)
    this.watch.unref()
  }

  /** Whether the worker takes the checkpoints now. */
  get inWorker(): boolean {
    return this.worker !== undefined
  }

  /** Called when the worker fails; the event loop's connection has taken checkpoints back by then. */
  onFailure(listener: (err: Error) => void): void {
    this.failure = listener
  }

  /** Stops the worker (its connection closed); the database itself stays open. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.watch)
    const worker = this.worker
    if (!worker) return
    this.worker = undefined
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    // Held now, so that the process waits for the worker's connection to close.
    worker.ref()
    worker.postMessage('close')
    await exited
    this.checkpointOnEventLoop()
  }

  /** SQLite's own way back: a commit past WAL_CHECKPOINT_PAGES checkpoints (the database may be closed by now). */
  private checkpointOnEventLoop(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`)
  }

  private start(): void {
    if (this.worker || this.closed) return
    clearInterval(this.watch)
    const { everyMs, restartAtPages } = this.options
    const workerData: CheckpointWorkerData = { file: this.db.name, everyMs, restartAtPages }
    const worker = new Worker(WORKER_BOOT, { eval: true, workerData })
    // Does not keep the process alive: a server stops by closing its app, which stops the worker.
    worker.unref()
    this.worker = worker
    this.db.pragma(`wal_autocheckpoint = ${this.options.backstopPages}`)
    let error: Error | undefined
    worker.on('error', (err) => (error = err))
    // Not started again after a failure: the event loop's connection checkpoints as SQLite does by default.
    worker.on('exit', () => {
      if (this.worker !== worker) return
      this.worker = undefined
      this.checkpointOnEventLoop()
      this.failure?.(error ?? new Error('the WAL checkpoint worker stopped'))
    })
  }
}
