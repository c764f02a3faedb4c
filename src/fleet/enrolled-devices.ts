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
  /** The moves of the key generation made through this source, oldest first. */
  keyMovesHere(): Promise<Array<{ from: number; to: number }>>
}

/**
 * Whether a device has an accepted key, from memory: every poll without a device token asks it
 * (device-standing.ts), and the answer changes only with an operator's decision or an enrollment.
 * The devices with an accepted key are read whole and read again when the change feed tells of a
 * decision (`changed`) and when the database's key generation moved (read at most every
 * KEYS_CHECK_MS) by others; a decision made in this process moves only its device (`decided`).
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

  /**
   * After a key decision made in this process about `device`: that device alone is read again and
   * added to or taken out of the devices held, rather than all of them being read again at the
   * next poll, nor at the next check of the key generation when this instance's decisions alone
   * moved it. A decision elsewhere still reaches here through `changed` or the key generation.
   */
  async decided(device: string): Promise<void> {
    const epoch = this.epoch
    const accepted = (await this.source.acceptedKey(device)) !== undefined
    // Dropped or read again meanwhile: what is held (or not held) already knows this decision.
    if (epoch !== this.epoch || this.accepted === undefined) return
    // A read of all devices begun before the decision would bring back the set without it.
    this.epoch++
    if (!accepted) this.accepted.delete(device)
    else if (this.accepted.has(device) || this.accepted.size < this.limit) this.accepted.add(device)
    else this.changed()
  }

  /** After a key decision told by the change feed: the next question reads the database. */
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
    // Moved by this instance's own decisions alone, which `decided` applied: nothing to read again.
    if (this.accepted !== undefined && this.generationSeen !== undefined && reachedHere(this.generationSeen, generation, await this.source.keyMovesHere())) {
      if (epoch === this.epoch) this.generationSeen = generation
      return
    }
    const devices = await this.source.acceptedDevices(this.limit + 1)
    if (epoch !== this.epoch) return
    this.accepted = devices.length > this.limit ? undefined : new Set(devices)
    this.generationSeen = generation
  }
}

/** Whether the moves made here lead from `seen` to `now` one after another, with no move of anyone else between. */
function reachedHere(seen: number, now: number, moves: Array<{ from: number; to: number }>): boolean {
  let at = seen
  for (const move of moves) if (move.from === at) at = move.to
  return at === now
}
