/** Entries held in memory at most; far more than a server's releases, and each is small. */
const MAX_CACHED = 10_000

/** A map that forgets everything once full: lookups of any digest a client names cannot grow it without bound. */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>()

  constructor(private readonly max = MAX_CACHED) {}

  get(key: K): V | undefined {
    return this.map.get(key)
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.max) this.map.clear()
    this.map.set(key, value)
  }

  delete(key: K): void {
    this.map.delete(key)
  }
}
