/**
 * A least-recently-used cache bounded by bytes, not entries: each value is stored with its size
 * (for a SAM embedding, the bytes of its tensors), and the oldest entries go until the total fits.
 * A value larger than the whole budget is not stored. A Map keeps insertion order, so re-inserting
 * on every hit makes its first key the least recently used.
 */
export interface LruStats {
  entries: number
  bytes: number
  capacity_bytes: number
  hits: number
  misses: number
  evictions: number
}

export class ByteLru<V> {
  private readonly map = new Map<string, {value: V; bytes: number}>()
  private total = 0
  hits = 0
  misses = 0
  evictions = 0

  constructor(readonly capacityBytes: number) {}

  /** The value, counted as a hit (and made the most recent), or undefined, counted as a miss. */
  get(key: string): V | undefined {
    const entry = this.map.get(key)
    if (!entry) {
      this.misses++
      return undefined
    }
    this.hits++
    this.map.delete(key)
    this.map.set(key, entry)
    return entry.value
  }

  /** The values held, least recently used first (no hit counted). */
  values(): V[] {
    return [...this.map.values()].map((e) => e.value)
  }

  has(key: string): boolean {
    return this.map.has(key)
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key)
    if (bytes > this.capacityBytes) return
    this.map.set(key, {value, bytes})
    this.total += bytes
    for (const [oldest, entry] of this.map) {
      if (this.total <= this.capacityBytes) break
      this.map.delete(oldest)
      this.total -= entry.bytes
      this.evictions++
    }
  }

  delete(key: string): void {
    const entry = this.map.get(key)
    if (!entry) return
    this.map.delete(key)
    this.total -= entry.bytes
  }

  clear(): void {
    this.map.clear()
    this.total = 0
  }

  stats(): LruStats {
    return {
      entries: this.map.size,
      bytes: this.total,
      capacity_bytes: this.capacityBytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    }
  }
}
