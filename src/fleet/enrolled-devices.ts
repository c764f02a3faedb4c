import type { Clock } from '../clock'
import { BoundedCache } from '../repositories/bounded-cache'

/**
 * How often the key generation is re-read: a key accepted or revoked through another instance (or
 * the CLI) is known here within this, as if it had been decided that much later. PostgreSQL's
 * change feed tells sooner, at the commit.
 */
export const KEYS_CHECK_MS = 1000

/** Devices whose answer is held; far more than polls within a second, bounded against any id sent. */
const HELD = 100_000

interface KeySource {
  acceptedKey(device: string): Promise<unknown>
  keysGeneration(): Promise<number>
}

/**
 * Whether a device has an accepted key, from memory: every poll without a device token asks it
 * (device-standing.ts), and the answer changes only with an operator's decision or an enrollment.
 * Dropped whole when this process decides a key (`changed`), when the change feed tells of a
 * decision elsewhere, and when the database's key generation moved (read at most every KEYS_CHECK_MS).
 */
export class EnrolledDevices {
  private readonly held = new BoundedCache<string, boolean>(HELD)
  private generationSeen: number | undefined
  private checkedAt = -Infinity
  /** Moves with every drop, so that an answer read across one is not kept. */
  private epoch = 0

  constructor(
    private readonly source: KeySource,
    private readonly clock: Clock
  ) {}

  async hasAcceptedKey(device: string): Promise<boolean> {
    const now = this.clock.now()
    if (now - this.checkedAt >= KEYS_CHECK_MS) {
      this.checkedAt = now
      const generation = await this.source.keysGeneration()
      if (generation !== this.generationSeen) {
        this.drop()
        this.generationSeen = generation
      }
    }
    const known = this.held.get(device)
    if (known !== undefined) return known
    const epoch = this.epoch
    const has = (await this.source.acceptedKey(device)) !== undefined
    if (epoch === this.epoch) this.held.set(device, has)
    return has
  }

  /** After a key decision made here or told by the change feed: the next question reads the database. */
  changed(): void {
    this.drop()
    this.checkedAt = -Infinity
  }

  private drop(): void {
    this.held.clear()
    this.epoch++
  }
}
