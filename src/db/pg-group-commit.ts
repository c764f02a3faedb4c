import type pg from 'pg'
import { lostToConcurrentWrite, TRANSACTION_TRIES } from './postgres'

type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown }

interface Waiting<T, R> {
  item: T
  resolve(value: R): void
  reject(error: unknown): void
}

/** Items committed together at most; the rest wait for the next turn. */
const MAX_BATCH = 500

/**
 * Batches under way at once, each on a connection of its own, and never more than half the pool:
 * polls read through the rest (a read that waits for a connection past the pool's timeout is a
 * 503). One at a time, a batch's answers waited for the previous batch's commit (its WAL flush)
 * too: 64 connections then got 1,700 new devices/s with PostgreSQL and ota-gate half idle.
 */
const MAX_IN_FLIGHT = 4

/**
 * As GroupCommit (SQLite), on PostgreSQL: writes that arrive while the batches under way commit
 * share the next transaction, so under load many check-ins cost one commit. Items of one key (a
 * device) are never in two batches under way: a later one waits for the batch of the earlier. With `applyAlone` a batch
 * first goes through one statement outside any transaction (its own commit: one round trip), which
 * writes the items it can and leaves the rest to the transaction. With `applyMany` a batch is
 * written by a few multi-row statements; when any of them fails, the batch is rolled back to its
 * savepoint and written again item by item, each in a savepoint of its own, so one that fails is
 * rejected alone (one that lost a deadlock is tried again). Every promise settles only after the commit, so an answered write is a durable one.
 */
export class PgGroupCommit<T, R, C = undefined> {
  private queue: Array<Waiting<T, R>> = []
  private inFlight = 0
  /** Keys of the items in the batches under way. */
  private readonly busy = new Set<string>()
  private scheduled = false
  private readonly maxInFlight: number

  constructor(
    private readonly pool: pg.Pool,
    private readonly keyOf: (item: T) => string,
    private readonly apply: (client: pg.PoolClient, item: T) => Promise<R>,
    /** writes every item (the answers in the items' order), or throws having written nothing it keeps */
    private readonly applyMany?: (client: pg.PoolClient, items: T[], learnt?: C) => Promise<R[]>,
    /**
     * one statement, committed on its own: the answers of the items it wrote (undefined for those
     * it left to the transaction) and what it learnt that `applyMany` may use; or throws having
     * written nothing
     */
    private readonly applyAlone?: (client: pg.PoolClient, items: T[]) => Promise<{ answers: Array<R | undefined>; learnt: C }>
  ) {
    this.maxInFlight = Math.max(1, Math.min(MAX_IN_FLIGHT, Math.floor((pool.options.max ?? 10) / 2)))
  }

  run(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.schedule()
    })
  }

  /** Starts batches in the next turn of the event loop, which gathers what arrives meanwhile. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.start()
    })
  }

  private start(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Array<Waiting<T, R>> = []
      const later: Array<Waiting<T, R>> = []
      const keys = new Set<string>()
      const waits = new Set<string>()
      for (const w of this.queue) {
        const key = this.keyOf(w.item)
        // Once one item of a key waits, the key's later items wait too: their order is kept.
        if (batch.length < MAX_BATCH && !this.busy.has(key) && !waits.has(key)) {
          batch.push(w)
          keys.add(key)
        } else {
          later.push(w)
          waits.add(key)
        }
      }
      for (const key of keys) this.busy.add(key)
      this.queue = later
      if (batch.length === 0) return
      this.inFlight++
      void this.commit(batch).finally(() => {
        this.inFlight--
        for (const key of keys) this.busy.delete(key)
        this.schedule()
      })
    }
  }

  private async commit(all: Array<Waiting<T, R>>): Promise<void> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      for (const w of all) w.reject(error)
      return
    }
    const { rest: waiting, learnt } = await this.writeAlone(client, all)
    if (waiting.length === 0) {
      client.release()
      return
    }
    const results: Array<Settled<R>> = []
    try {
      await client.query('BEGIN')
      if (waiting.length === 1 || !(await this.applyAll(client, waiting, results, learnt))) {
        for (const w of waiting) results.push(await this.applyOne(client, w.item))
      }
      await client.query('COMMIT')
    } catch (error) {
      // The commit itself failed (connection lost, server gone): nothing of the batch is kept.
      await client.query('ROLLBACK').catch(() => undefined)
      client.release(true)
      for (const w of waiting) w.reject(error)
      return
    }
    client.release()
    results.forEach((r, i) => (r.ok ? waiting[i].resolve(r.value) : waiting[i].reject(r.error)))
  }

  /**
   * One item in a savepoint of its own: rolled back alone if it fails, tried again (up to
   * TRANSACTION_TRIES times) if it lost a deadlock. Batches under way at once, and other instances,
   * move devices between versions, each move locking two fleet_versions rows in its own order, and
   * PostgreSQL cancels one side of such a deadlock to let the other go on.
   */
  private async applyOne(client: pg.PoolClient, item: T): Promise<Settled<R>> {
    for (let tries = 1; ; tries++) {
      await client.query('SAVEPOINT item')
      try {
        const value = await this.apply(client, item)
        await client.query('RELEASE SAVEPOINT item')
        return { ok: true, value }
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT item')
        if (!lostToConcurrentWrite(error) || tries >= TRANSACTION_TRIES) return { ok: false, error }
      }
    }
  }

  /** Answers the items `applyAlone` wrote (committed); returns the others. */
  private async writeAlone(client: pg.PoolClient, waiting: Array<Waiting<T, R>>): Promise<{ rest: Array<Waiting<T, R>>; learnt?: C }> {
    if (!this.applyAlone) return { rest: waiting }
    let answers: Array<R | undefined>
    let learnt: C
    try {
      ;({ answers, learnt } = await this.applyAlone(client, waiting.map((w) => w.item)))
    } catch {
      // One statement: it failed whole, so the transaction writes (or refuses) every item.
      return { rest: waiting }
    }
    const rest: Array<Waiting<T, R>> = []
    waiting.forEach((w, i) => {
      const answer = answers[i]
      if (answer === undefined) rest.push(w)
      else w.resolve(answer)
    })
    return { rest, learnt }
  }

  /** The batch in a few statements; false (and nothing written) when one of them failed. */
  private async applyAll(client: pg.PoolClient, waiting: Array<Waiting<T, R>>, results: Array<Settled<R>>, learnt?: C): Promise<boolean> {
    if (!this.applyMany) return false
    await client.query('SAVEPOINT batch')
    let values: R[]
    try {
      values = await this.applyMany(client, waiting.map((w) => w.item), learnt)
    } catch {
      // Which item failed is unknown: item by item, the failing one is rejected and the rest kept.
      await client.query('ROLLBACK TO SAVEPOINT batch')
      return false
    }
    await client.query('RELEASE SAVEPOINT batch')
    results.push(...values.map((value): Settled<R> => ({ ok: true, value })))
    return true
  }
}
