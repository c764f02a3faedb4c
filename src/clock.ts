/**
 * The time source of everything that stamps or compares times (rows, tokens, signed manifests,
 * the stale window, rollout caches). Production runs on the system clock; the tests pass a clock
 * they move, so that nothing waits for time to pass.
 */
export interface Clock {
  /** milliseconds since the epoch, as Date.now() */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
