import type { Clock } from '../clock'

/**
 * How often the key generation is re-read: a key accepted or revoked through another instance (or
 * the CLI) is known here within this, as if it had been decided that much later. PostgreSQL's
 * change feed tells sooner, at the commit.
 */
export const KEYS_CHECK_MS = 1000

/**
 * Devices with an accepted key held in memory at most (a few MB). A fleet with more enrolled
 * devices asks the database at each poll, as every fleet did before.
 */
export const HELD_DEVICES = 50_000

interface KeySource {
  acceptedKey(device: string): Promise<unknown>
  /** Devices with an accepted key, at most `limit`. */
  acceptedDevices(limit: number): Promise<string[]>
  keysGeneration(): Promise<number>
}

/**
 * Whether a device has an accepted key, from memory: every poll without a device token asks it
 * (device-standing.ts), and the answer changes only with an operator's decision or an enrollment.
 * The devices with an accepted key are read whole and read again when this process decides a key
 * (`changed`), when the change feed tells of a decision elsewhere, and when the database's key
 * generation moved (read at most every KEYS_CHECK_MS).
 */
export class EnrolledDevices {
  /** undefined: not read yet, dropped, or more than the limit (then each poll asks the database) */
  private accepted: Set<string> | undefined
  private generationSeen: number | undefined
  private checkedAt = -Infinity
  private reading: Promise<void> | undefined
  /** Moves with every drop, so that a set read across one is not kept. */
  private epoch = 0

  constructor(
    private readonly source: KeySource,
    private readonly clock: Clock,
    private readonly limit = HELD_DEVICES
  ) {}

  async hasAcceptedKey(device: string): Promise<boolean> {
    if (this.clock.now() - this.checkedAt >= KEYS_CHECK_MS) await (this.reading ??= this.check().finally(() => (this.reading = undefined)))
    if (this.accepted !== undefined) return this.accepted.has(device)
    return (await this.source.acceptedKey(device)) !== undefined
  }

  /** After a key decision made here or told by the change feed: the next question reads the database. */
  changed(): void {
    this.accepted = undefined
    this.generationSeen = undefined
    this.checkedAt = -Infinity
    this.epoch++
  }

  private async check(): Promise<void> {
    this.checkedAt = this.clock.now()
    const epoch = this.epoch
    // The generation first: a decision made while the devices are read moves it again, so it is not missed.
    const generation = await this.source.keysGeneration()
    if (generation === this.generationSeen) return
    const devices = await this.source.acceptedDevices(this.limit + 1)
    if (epoch !== this.epoch) return
    this.accepted = devices.length > this.limit ? undefined : new Set(devices)
    this.generationSeen = generation
  }
}
