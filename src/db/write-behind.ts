import type { Database, Transaction } from 'better-sqlite3'

/**
 * Keys waiting beyond which a flush is started in the next turn of the event loop: each written
 * row costs about the same in a batch of 256 as in one of 10,000 (a page rewritten per row), and
 * a small batch holds up the answers of that turn for milliseconds, not for a second's worth of rows.
 */
const FLUSH_AT = 256

/**
 * Writes that may be late but not lost for long: kept in memory by key (a newer one merged into
 * the one waiting) and applied in one transaction every `intervalMs` at the latest, sooner when
 * FLUSH_AT keys wait. What waits is lost only if the process dies before that flush; a graceful
 * close flushes it all.
 *
 * A flush that fails (disk full) keeps what it could not write for the next one and tells `onError`.
 */
export class WriteBehind<K, V> {
  private pending = new Map<K, V>()
  /** What `applyNow` wrote inside the caller's transaction under way, put back if it rolls back. */
  private taken: Array<[K, V]> = []
  private readonly write: Transaction<(entries: Map<K, V>) => void>
  private readonly timer: NodeJS.Timeout
  private soon: NodeJS.Immediate | undefined

  constructor(
    db: Database,
    private readonly apply: (key: K, value: V) => void,
    private readonly merge: (waiting: V, next: V) => V,
    intervalMs: number,
    private readonly onError: (error: unknown, waiting: number) => void
  ) {
    this.write = db.transaction((entries: Map<K, V>) => {
      for (const [key, value] of entries) apply(key, value)
    })
    this.timer = setInterval(() => this.flush(), intervalMs)
    // The server's own listeners keep the process alive; a close flushes what is left.
    this.timer.unref()
  }

  get size(): number {
    return this.pending.size
  }

  /** Keeps `value` for `key` until the next flush. */
  set(key: K, value: V): void {
    const waiting = this.pending.get(key)
    this.pending.set(key, waiting === undefined ? value : this.merge(waiting, value))
    if (this.pending.size >= FLUSH_AT && this.soon === undefined) {
      this.soon = setImmediate(() => {
        this.soon = undefined
        this.flush()
      })
    }
  }

  /**
   * Writes what waits for `key` now, inside the caller's transaction: a durable write of the same
   * key goes after it, so the late value never overwrites a newer one.
   */
  applyNow(key: K): void {
    const waiting = this.pending.get(key)
    if (waiting === undefined) return
    this.apply(key, waiting)
    this.pending.delete(key)
    this.taken.push([key, waiting])
  }

  /** Where the caller's transaction (or savepoint) begins, for `rollBackTo`. */
  mark(): number {
    return this.taken.length
  }

  /** The caller's transaction since `mark` rolled back: what `applyNow` took from then waits again. */
  rollBackTo(mark: number): void {
    for (const [key, value] of this.taken.splice(mark)) {
      const newer = this.pending.get(key)
      this.pending.set(key, newer === undefined ? value : this.merge(value, newer))
    }
  }

  /** The caller's transaction committed: what `applyNow` took is written. */
  committed(): void {
    this.taken = []
  }

  /** Writes everything waiting, in one transaction. False (and `onError` told) when it failed. */
  flush(): boolean {
    if (this.pending.size === 0) return true
    try {
      // Synchronous: nothing is added while it runs, and a failed transaction wrote nothing.
      // IMMEDIATE, as GroupCommit's: beside another process's writes (several instances on one
      // data folder) it waits for the write lock rather than failing with SQLITE_BUSY.
      this.write.immediate(this.pending)
    } catch (error) {
      this.onError(error, this.pending.size)
      return false
    }
    this.pending = new Map()
    return true
  }

  /** Stops the timer and writes what waits. */
  close(): boolean {
    clearInterval(this.timer)
    if (this.soon !== undefined) clearImmediate(this.soon)
    this.soon = undefined
    return this.flush()
  }
}
