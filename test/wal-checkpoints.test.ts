import fs from 'node:fs'
import t from 'tap'
import { databasePath, openDatabase, WAL_CHECKPOINT_PAGES } from '../src/db/open'
import { WalCheckpoints } from '../src/db/wal-checkpoints'
import { tempDir } from './support/server'
import { until } from './support/wait'

// SQLite's checkpoints (the WAL copied back into the database file, then an fsync) move to a worker
// thread once a database is written to in earnest, so that no request waits behind one.

/** WAL pages at which the event loop's connection checkpoints while the worker runs, in these tests. */
const BACKSTOP = 2000

/** A worker that starts at 256 KB of WAL and checkpoints every 20 ms, never with RESTART. */
const QUICK = { everyMs: 20, watchMs: 20, startAtBytes: 256 * 1024, restartAtPages: 1_000_000, backstopPages: BACKSTOP }

const autocheckpoint = (db: ReturnType<typeof openDatabase>) => db.pragma('wal_autocheckpoint', { simple: true })

/** About `bytes` more in the database, in transactions of 256 KB as the server's batches write; returns the rows written. */
function write(db: ReturnType<typeof openDatabase>, bytes: number): number {
  const insert = db.prepare('INSERT INTO filler (bytes) VALUES (randomblob(4000))')
  const batch = db.transaction(() => {
    for (let i = 0; i < 64; i++) insert.run()
  })
  let rows = 0
  for (let done = 0; done < bytes; done += 64 * 4000, rows += 64) batch()
  return rows
}

t.test('once the WAL grows, a worker copies it back and the event loop never does', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  t.teardown(() => db.open && db.close())
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)')
  const checkpoints = new WalCheckpoints(db, QUICK)
  t.teardown(() => checkpoints.close())
  t.equal(autocheckpoint(db), WAL_CHECKPOINT_PAGES, 'until then, commits on the event loop checkpoint as SQLite does')
  t.notOk(checkpoints.inWorker, 'no thread for a database written little')

  write(db, 1024 * 1024)
  t.ok(await until(() => checkpoints.inWorker), 'the worker starts once the WAL holds more than the threshold')
  t.equal(autocheckpoint(db), BACKSTOP, "the event loop's connection checkpoints only past the backstop")

  // Under the backstop (8 MB) the event loop's connection does not checkpoint: only the worker can
  // move these pages into the file.
  const before = fs.statSync(databasePath(dir)).size
  write(db, 4 * 1024 * 1024)
  t.ok(await until(() => fs.statSync(databasePath(dir)).size >= before + 4 * 1024 * 1024), 'the new pages reach the database file')
  t.equal(autocheckpoint(db), BACKSTOP)

  await checkpoints.close()
  t.notOk(checkpoints.inWorker)
  t.equal(autocheckpoint(db), WAL_CHECKPOINT_PAGES, 'closed, commits checkpoint again')
  const rows = (db.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n
  db.close()
  t.notOk(fs.existsSync(`${databasePath(dir)}-wal`), 'the last connection closed copies the WAL back and removes it')
  const reopened = openDatabase(dir)
  t.equal((reopened.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, rows, 'every row is there')
  reopened.close()
})

t.test('closed before it started, no worker is started later', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  t.teardown(() => db.close())
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)')
  const checkpoints = new WalCheckpoints(db, QUICK)
  await checkpoints.close()
  write(db, 1024 * 1024)
  const other = new WalCheckpoints(db, QUICK)
  t.teardown(() => other.close())
  // A second watcher over the same WAL starts its worker; the closed one has not, by then.
  t.ok(await until(() => other.inWorker))
  t.notOk(checkpoints.inWorker)
  t.equal(autocheckpoint(db), BACKSTOP)
})

t.test('while the worker runs, the WAL does not grow past the backstop', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  t.teardown(() => db.open && db.close())
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)')
  // A worker that takes no checkpoint within the test. A working one does not bound the WAL either
  // while writes never pause: it starts over only when every frame is copied back before the next write.
  const checkpoints = new WalCheckpoints(db, { ...QUICK, everyMs: 3_600_000, restartAtPages: 500, backstopPages: 500 })
  t.teardown(() => checkpoints.close())
  let rows = write(db, 1024 * 1024)
  t.ok(await until(() => checkpoints.inWorker))
  const wal = `${databasePath(dir)}-wal`
  let largest = 0
  for (let i = 0; i < 64; i++) {
    rows += write(db, 256 * 1024)
    largest = Math.max(largest, fs.statSync(wal).size)
  }
  // 32 MB written: the WAL starts over once the event loop's connection has copied 500 pages back.
  t.ok(largest < 4 * 1024 * 1024, `the WAL peaked at ${largest} bytes, about the backstop's 2 MB and a batch`)
  t.equal((db.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, rows, 'every row is there')
})

t.test('beside a writer that never pauses, the worker makes the WAL start over', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  t.teardown(() => db.open && db.close())
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)')
  const rows = 2000
  const insert = db.prepare('INSERT INTO filler (id, bytes) VALUES (?, randomblob(4000))')
  db.transaction(() => {
    for (let id = 0; id < rows; id++) insert.run(id)
  })()
  // The event loop's connection never checkpoints here: only the worker can bound the WAL.
  const checkpoints = new WalCheckpoints(db, { ...QUICK, restartAtPages: 500, backstopPages: 1_000_000 })
  t.teardown(() => checkpoints.close())
  t.ok(await until(() => checkpoints.inWorker))
  // Rows rewritten in place, 64 at a time (a page each) as refresh batches are, about 100 MB of
  // WAL in all, a batch every other millisecond so that the writer never pauses for long.
  const update = db.prepare('UPDATE filler SET bytes = randomblob(4000) WHERE id = ?')
  const batch = db.transaction((first: number) => {
    for (let i = 0; i < 64; i++) update.run((first + i * 31) % rows)
  })
  const wal = `${databasePath(dir)}-wal`
  let largest = 0
  for (let n = 0; n < 400; n++) {
    batch(n * 64)
    largest = Math.max(largest, fs.statSync(wal).size)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  // Here about 20 MB, where it never starts over without RESTART (114 MB).
  t.ok(largest < 48 * 1024 * 1024, `the WAL peaked at ${largest} bytes of the ~100 MB written`)
})
