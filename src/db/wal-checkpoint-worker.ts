import { parentPort, workerData } from 'node:worker_threads'
import BetterSqlite3 from 'better-sqlite3'

// Runs in a worker thread with a connection of its own: copies the WAL's pages back into the
// database file (a PASSIVE checkpoint: it waits for no reader or writer) every `everyMs`. The copy
// and the fsync that ends it take the event loop's place on another thread.

export interface CheckpointWorkerData {
  file: string
  everyMs: number
  /** WAL pages from which the worker also makes the WAL start over (RESTART) */
  restartAtPages: number
}

/** A row of `PRAGMA wal_checkpoint`: the WAL's pages, and how many of them are copied back. */
interface CheckpointResult {
  busy: number
  log: number
  checkpointed: number
}

const { file, everyMs, restartAtPages } = workerData as CheckpointWorkerData
const db = new BetterSqlite3(file)
db.pragma('synchronous = NORMAL')

// At the event loop's priority, not below it: a RESTART holds the write lock, and a thread lowered
// on a busy core kept the event loop waiting behind it (steady-poll p99 187–294 ms against 111–116
// at the same priority, npm run bench scenario 1, alternating runs).

const checkpoint = () => {
  try {
    const [copied] = db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[]
    // The WAL starts over only when a commit finds every page of it copied back, which a PASSIVE
    // checkpoint beside a writer that never pauses does not leave. RESTART waits for the writer's
    // commit, copies the pages written since and holds the next writer back until it is done
    // (tens of ms under heavy writes: README, Performance), so that writer starts the WAL over.
    if (copied.log >= restartAtPages) db.pragma('wal_checkpoint(RESTART)')
  } catch (err) {
    // A database busy or locked now is tried again at the next turn; anything else ends the worker,
    // and the connection on the event loop takes checkpoints back.
    const code = (err as { code?: unknown }).code
    if (code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') throw err
  }
}

const timer = setInterval(checkpoint, everyMs)
parentPort?.on('message', (message) => {
  if (message !== 'close') return
  clearInterval(timer)
  db.close()
  parentPort?.close()
})
