import fs from 'node:fs'
import os from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import BetterSqlite3 from 'better-sqlite3'

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

// On Linux a thread has its own nice value: on a busy core the event loop answering polls goes first.
try {
  const tid = Number(/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'))?.[1])
  if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 10)
} catch {
  // No /proc (not Linux) or not allowed: checkpoints run at the process's priority.
}

const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch (err) {
    // A database busy or locked now is tried again at the next turn; anything else ends the worker,
    // and the connection on the event loop takes checkpoints back.
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' && (err as { code?: unknown }).code !== 'SQLITE_LOCKED') throw err
  }
}

const timer = setInterval(checkpoint, everyMs)
parentPort?.on('message', (message) => {
  if (message !== 'close') return
  clearInterval(timer)
  db.close()
  parentPort?.close()
})
