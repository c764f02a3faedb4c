import type { Database, Transaction } from 'better-sqlite3'

type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown }

interface Waiting<T, R> {
  item: T
  resolve(value: R): void
  reject(error: unknown): void
}

/**
 * Memory that `apply` changes beside the database (what it took from a write-behind queue), told
 * how each transaction or savepoint ended so that a rolled-back write leaves memory as it found it.
 */
export interface TransactionMemory {
  mark(): number
  rollBackTo(mark: number): void
  committed(): void
}

/** Items committed together at most; the rest wait for the next turn. */
const MAX_BATCH = 1000

/**
 * Writes that arrive in the same turn of the event loop share one transaction: the commit is what
 * a write costs, so under load many check-ins cost about one. A batch is first written straight
 * through; when an item fails, the whole transaction is rolled back and the batch written again
 * with each item in a savepoint of its own, so one that fails is rolled back and rejected alone
 * (a savepoint an item cost two statements more, when items almost never fail). Every promise
 * settles only after the commit, so an answered write is a durable one.
 */
export class GroupCommit<T, R> {
  private queue: Array<Waiting<T, R>> = []
  private readonly batch: Transaction<(items: T[]) => Array<Settled<R>>>
  private readonly straight: Transaction<(items: T[]) => Array<Settled<R>>>

  constructor(
    db: Database,
    apply: (item: T) => R,
    private readonly memory: TransactionMemory
  ) {
    const one = db.transaction(apply)
    this.straight = db.transaction((items: T[]) => items.map((item): Settled<R> => ({ ok: true, value: apply(item) })))
    this.batch = db.transaction((items: T[]) =>
      items.map((item): Settled<R> => {
        const mark = memory.mark()
        try {
          return { ok: true, value: one(item) }
        } catch (error) {
          memory.rollBackTo(mark)
          return { ok: false, error }
        }
      })
    )
  }

  run(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      if (this.queue.length === 1) setImmediate(() => this.flush())
    })
  }

  private flush(): void {
    const waiting = this.queue.slice(0, MAX_BATCH)
    this.queue = this.queue.slice(MAX_BATCH)
    if (this.queue.length > 0) setImmediate(() => this.flush())
    let results: Array<Settled<R>>
    try {
      // BEGIN IMMEDIATE: the write lock is taken first, waiting (busy_timeout) for another process
      // that holds it. A deferred transaction that reads and then writes fails at once with
      // SQLITE_BUSY when another process wrote meanwhile (several instances on one data folder).
      results = this.write(waiting.map((w) => w.item))
    } catch (error) {
      // The commit itself failed (disk full, database locked too long): nothing of the batch is kept.
      for (const w of waiting) w.reject(error)
      return
    }
    results.forEach((r, i) => (r.ok ? waiting[i].resolve(r.value) : waiting[i].reject(r.error)))
  }

  private write(items: T[]): Array<Settled<R>> {
    const start = this.memory.mark()
    let results: Array<Settled<R>>
    try {
      results = this.straight.immediate(items)
    } catch {
      // Rolled back whole: which item failed (or whether the commit did) is found item by item.
      this.memory.rollBackTo(start)
      try {
        results = this.batch.immediate(items)
      } catch (error) {
        this.memory.rollBackTo(start)
        throw error
      }
    }
    this.memory.committed()
    return results
  }
}
