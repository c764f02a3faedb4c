import crypto from 'node:crypto'

/** Buckets per release: a percentage with two decimals selects a whole number of them. */
export const BUCKETS = 10_000

/**
 * The device's bucket for one release: the first 4 bytes of SHA-256("<release sha256>:<device>")
 * modulo 10,000. Fixed per device and release, so raising the percentage only adds devices, and
 * independent between releases, so the same devices are not always the first to get a new build.
 */
export function rolloutBucket(releaseSha256: string, device: string): number {
  return crypto.createHash('sha256').update(`${releaseSha256}:${device}`).digest().readUInt32BE(0) % BUCKETS
}

/** Whether the device falls within `percent` (0–100) of a release's rollout. */
export function inRollout(releaseSha256: string, device: string, percent: number): boolean {
  // Every bucket is under 100%: no SHA-256 per poll for a release rolled out to everyone (3% of a poll's CPU).
  if (percent >= 100) return true
  return rolloutBucket(releaseSha256, device) < Math.round(percent * (BUCKETS / 100))
}
