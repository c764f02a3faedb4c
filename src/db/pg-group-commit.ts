import type pg from 'pg'

interface Waiting<T, R> {
  item: T
  resolve(value: R): void
  reject(error: unknown): void
}

/** Items committed together at most; the rest wait for the next turn. */
const MAX_BATCH = 500

/**
 * As GroupCommit (SQLite), on PostgreSQL: writes that arrive while the previous batch commits share
 * the next transaction, so under load many check-ins cost one commit. Each item runs in a savepoint
 * of its own, so one that fails is rolled back and rejected alone; every promise settles only after
 * the commit, so an answered write is a durable one.
 */
export class PgGroupCommit<T, R> {
  private queue: Array<Waiting<T, R>> = []
  private flushing = false

  constructor(
    private readonly pool: pg.Pool,
    private readonly apply: (client: pg.PoolClient, item: T) => Promise<R>
  ) {}

  run(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      if (!this.flushing) {
        this.flushing = true
        setImmediate(() => void this.flush())
      }
    })
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const waiting = this.queue.slice(0, MAX_BATCH)
      this.queue = this.queue.slice(MAX_BATCH)
      await this.commit(waiting)
    }
    this.flushing = false
  }

  private async commit(waiting: Array<Waiting<T, R>>): Promise<void> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      for (const w of waiting) w.reject(error)
      return
    }
    const results: Array<{ ok: true; value: R } | { ok: false; error: unknown }> = []
    try {
      await client.query('BEGIN')
      // A batch of one needs no savepoint: its failure is the transaction's.
      if (waiting.length === 1) {
        try {
          results.push({ ok: true, value: await this.apply(client, waiting[0].item) })
        } catch (error) {
          await client.query('ROLLBACK')
          client.release()
          waiting[0].reject(error)
          return
        }
      } else {
        for (const w of waiting) {
          await client.query('SAVEPOINT item')
          try {
            results.push({ ok: true, value: await this.apply(client, w.item) })
            await client.query('RELEASE SAVEPOINT item')
          } catch (error) {
            results.push({ ok: false, error })
            await client.query('ROLLBACK TO SAVEPOINT item')
          }
        }
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
}
