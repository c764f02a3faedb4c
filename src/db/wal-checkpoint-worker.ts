import { parentPort, workerData } from 'node:worker_threads'
import BetterSqlite3 from 'better-sqlite3'
import { lowerThisThreadPriority } from '../worker-threads'

// Runs in a worker thread with a connection of its own: copies the WAL's pages back into the
// database file (a PASSIVE checkpoint: it waits for no reader or writer) every `everyMs`. The copy
// and the fsync that ends it take the event loop's place on another thread.

export interface CheckpointWorkerData {
  file: string
  everyMs: number
}

const { file, everyMs } = workerData as CheckpointWorkerData
const db = new BetterSqlite3(file)
db.pragma('synchronous = NORMAL')

// Below the event loop, above the delta builds: a checkpoint left waiting lets the WAL grow.
lowerThisThreadPriority(10)

const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
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
