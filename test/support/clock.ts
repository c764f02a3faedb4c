import type { Clock } from '../../src/clock'

/** A clock the test moves: time passes only when the test says so. */
export class TestClock implements Clock {
  constructor(private at: number = Date.UTC(2026, 11, 1, 9, 0, 0)) {}

  now(): number {
    return this.at
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.at += ms
  }
}
