import type { FrequencySketch } from './frequency-sketch.js'
import { NONE, WTinyLfuPolicy } from './w-tinylfu-policy.js'

/**
 * A scaled-down W-TinyLFU over key hashes only: the same {@link WTinyLfuPolicy} engine as the
 * store, counting entries, with an open-addressing table from hash to slot. The hill climber feeds
 * two of these a spatially sampled share of the requests (every key whose hash falls in 1/R of the
 * hash space, capacity scaled by 1/R: the SHARDS technique of Waldspurger et al., FAST 2015, and
 * the "miniature simulations" of Waldspurger et al., USENIX ATC 2017), each with a different
 * window, to see which window would do better on the very same requests.
 *
 * Admission uses the store's own frequency sketch: a sampled key's count there is its count in
 * the full stream, which is what the scaled-down cache must judge by. A miniature that compares
 * ageing rates cannot share it (the store's sketch ages at one rate only): it is given a sketch of
 * its own (`counting`), which it feeds every request it sees. Its keys are all the requests for
 * the sampled keys, so their counts are again their counts in the full stream, aged at the
 * miniature's own rate.
 */
export class MiniatureCache {
  readonly #policy: WTinyLfuPolicy
  readonly #sketch: FrequencySketch | undefined
  #table: Int32Array
  #mask: number
  #filled = false

  /** @param counting the sketch is the miniature's own: count every request in it */
  constructor(sketch: FrequencySketch, capacity: number, windowShare: number, counting = false) {
    this.#sketch = counting ? sketch : undefined
    this.#policy = new WTinyLfuPolicy(sketch, capacity, windowShare, undefined, (slot) => this.#forget(slot), capacity + 8)
    const size = 2 ** Math.ceil(Math.log2(Math.max(16, capacity * 2)))
    this.#table = new Int32Array(size)
    this.#mask = size - 1
  }

  /** Whether it has been full (evicted at least once): before that, it shows only the warm-up. */
  get filled(): boolean {
    return this.#filled
  }

  /** Entries the miniature holds at most. */
  get capacity(): number {
    return this.#policy.maximum
  }

  /** Sets the window size in entries. */
  setWindow(entries: number): void {
    this.#policy.setWindowMax(entries)
  }

  /** One request for a (sampled) key: true on a hit; on a miss the key is inserted. */
  access(hash: number): boolean {
    this.#sketch?.increment(hash)
    const policy = this.#policy
    const slot = this.#find(hash)
    if (slot !== NONE) {
      policy.hit(slot)
      return true
    }
    const inserted = policy.insert(hash, 1)
    if (policy.slotCapacity > this.#table.length / 2) this.#rebuild()
    this.#put(hash, inserted)
    if (policy.needsEviction()) policy.evict()
    return false
  }

  #find(hash: number): number {
    const table = this.#table
    const hashes = this.#policy.hashes
    for (let i = hash & this.#mask; ; i = (i + 1) & this.#mask) {
      const stored = table[i] as number
      if (stored === 0) return NONE
      if (hashes[stored - 1] === hash) return stored - 1
    }
  }

  #put(hash: number, slot: number): void {
    const table = this.#table
    let i = hash & this.#mask
    while (table[i] !== 0) i = (i + 1) & this.#mask
    table[i] = slot + 1
  }

  /** Removes an evicted slot from the table (linear probing, backward-shift deletion). */
  #forget(slot: number): void {
    this.#filled = true
    const table = this.#table
    const hashes = this.#policy.hashes
    const mask = this.#mask
    let i = (hashes[slot] as number) & mask
    while (table[i] !== slot + 1) i = (i + 1) & mask
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = (hashes[(table[j] as number) - 1] as number) & mask
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        table[i] = table[j] as number
        i = j
      }
    }
    table[i] = 0
  }

  #rebuild(): void {
    const size = this.#table.length * 2
    const old = this.#table
    this.#table = new Int32Array(size)
    this.#mask = size - 1
    for (const stored of old) if (stored !== 0) this.#put(this.#policy.hashes[stored - 1] as number, stored - 1)
  }
}
