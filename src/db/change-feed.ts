import { Client } from 'pg'

/** The PostgreSQL channel the change triggers notify on (migrations/postgres: change feed). */
export const CHANGE_CHANNEL = 'ota_gate_changes'

/** Milliseconds between attempts to listen again after the connection was lost. */
const RECONNECT_MS = 250

export interface ChangeFeedEvents {
  /** the feed is listening again after a loss; what changed meanwhile is unknown */
  onReconnect?: () => void
  onError?: (err: Error) => void
}

/**
 * What every instance on one database hears when any of them (or the CLI, or psql) commits a
 * change to a table the device endpoints cache: PostgreSQL LISTEN on one dedicated connection.
 * A trigger per table sends the table's name, once per statement, when its transaction commits,
 * so a listener drops its cached reads within milliseconds of the commit. After a lost connection
 * the feed listens again by itself and tells every subscriber that anything may have changed.
 */
export class PgChangeFeed {
  private readonly subscribers = new Map<string, Set<() => void>>()
  private client: Client | undefined
  private closed = false
  private retry: NodeJS.Timeout | undefined
  private listening = false

  constructor(
    private readonly connectionString: string,
    private readonly events: ChangeFeedEvents = {}
  ) {}

  /** Whether notifications arrive now; while false, cached reads may be stale. */
  get connected(): boolean {
    return this.listening
  }

  /** Calls `fn` after each committed change to one of `tables`, and after each reconnect. */
  subscribe(tables: readonly string[], fn: () => void): void {
    for (const table of tables) {
      let set = this.subscribers.get(table)
      if (!set) this.subscribers.set(table, (set = new Set()))
      set.add(fn)
    }
  }

  /** Listens; throws when the database cannot be reached at all (the instance does not start). */
  async start(): Promise<void> {
    await this.listen()
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.retry)
    const client = this.client
    this.client = undefined
    this.listening = false
    await client?.end().catch(() => undefined)
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString, connectionTimeoutMillis: 2000, keepAlive: true })
    client.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL && n.payload) this.notify(this.subscribers.get(n.payload))
    })
    client.on('error', (err) => this.lost(client, err))
    client.on('end', () => this.lost(client))
    try {
      await client.connect()
      await client.query(`LISTEN ${CHANGE_CHANNEL}`)
    } catch (err) {
      await client.end().catch(() => undefined)
      throw err
    }
    if (this.closed) {
      await client.end().catch(() => undefined)
      return
    }
    this.client = client
    this.listening = true
  }

  private lost(client: Client, err?: Error): void {
    if (this.client !== client) return
    this.client = undefined
    this.listening = false
    if (err) this.events.onError?.(err)
    client.end().catch(() => undefined)
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closed) return
    this.retry = setTimeout(() => {
      this.listen().then(
        () => {
          if (this.closed) return
          // Notifications sent while nobody listened are gone: every cache re-reads.
          this.notify(new Set([...this.subscribers.values()].flatMap((s) => [...s])))
          this.events.onReconnect?.()
        },
        () => this.scheduleReconnect()
      )
    }, RECONNECT_MS)
    this.retry.unref()
  }

  private notify(fns: Set<() => void> | undefined): void {
    for (const fn of fns ?? []) fn()
  }
}
