import type { Clock } from '../ports/clock.js'
import type { CacheEntry } from '../ports/entry.js'
import type { EvictionReason, L1Store, L1StoreStats } from '../ports/store.js'

/** Options shared by the L1 stores. */
export interface L1StoreOptions {
  /** Upper bound on the sum of entry weights. */
  readonly maxBytes: number
  readonly clock: Clock
  /** Weight of one entry in bytes; default {@link defaultWeigher}. */
  readonly weigher?: ((key: string, entry: CacheEntry) => number) | undefined
  /** Called synchronously when an entry leaves the store. Must not throw (errors are swallowed). */
  readonly onEvict?: ((key: string, entry: CacheEntry, reason: EvictionReason) => void) | undefined
}

/**
 * Fixed cost of one entry on the V8 heap beyond its serialized size: the entry object, the Map slot,
 * the key string header and the list links. Measured by bench/l1-memory.ts; close enough that
 * `maxBytes` bounds the heap within a small factor.
 */
export const ENTRY_OVERHEAD_BYTES = 160

/** Serialized size plus the key (UTF-16 in V8) plus the fixed overhead. */
export function defaultWeigher(key: string, entry: CacheEntry): number {
  return entry.size + key.length * 2 + ENTRY_OVERHEAD_BYTES
}

const NONE = 0xffffffff

/**
 * A byte-bounded LRU: a Map from key to slot, and a doubly linked list threaded through typed
 * arrays so a hit moves a slot without allocating (lru-cache's layout). Expired entries are dropped
 * when read and, for the rest, reclaimed as they reach the cold end.
 */
export class LruStore implements L1Store {
  readonly name = 'lru'
  readonly #maxBytes: number
  readonly #clock: Clock
  readonly #weigher: (key: string, entry: CacheEntry) => number
  readonly #onEvict: ((key: string, entry: CacheEntry, reason: EvictionReason) => void) | undefined

  readonly #index = new Map<string, number>()
  #keys: (string | undefined)[] = []
  #entries: (CacheEntry | undefined)[] = []
  #weights: Float64Array
  #next: Uint32Array
  #prev: Uint32Array
  #free: number[] = []
  #size = 0
  #head = NONE
  #tail = NONE
  #bytes = 0
  #evictions = 0
  #expirations = 0

  constructor(options: L1StoreOptions) {
    this.#maxBytes = options.maxBytes
    this.#clock = options.clock
    this.#weigher = options.weigher ?? defaultWeigher
    this.#onEvict = options.onEvict
    const initial = 1024
    this.#weights = new Float64Array(initial)
    this.#next = new Uint32Array(initial)
    this.#prev = new Uint32Array(initial)
  }

  get(key: string): CacheEntry | undefined {
    const slot = this.#index.get(key)
    if (slot === undefined) return undefined
    const entry = this.#entries[slot] as CacheEntry
    if (entry.staleUntil <= this.#clock.now()) {
      this.#expirations++
      this.#remove(slot, key, entry, 'expired')
      return undefined
    }
    if (slot !== this.#head) this.#moveToHead(slot)
    return entry
  }

  peek(key: string): CacheEntry | undefined {
    const slot = this.#index.get(key)
    if (slot === undefined) return undefined
    const entry = this.#entries[slot] as CacheEntry
    return entry.staleUntil <= this.#clock.now() ? undefined : entry
  }

  getMany(keys: readonly string[]): (CacheEntry | undefined)[] {
    return keys.map((key) => this.get(key))
  }

  set(key: string, entry: CacheEntry): void {
    const weight = this.#weigher(key, entry)
    const existing = this.#index.get(key)
    if (weight > this.#maxBytes) {
      // Larger than the whole cache: keeping it would evict everything else. Drop any older copy
      // so a stale value cannot outlive the write.
      if (existing !== undefined) this.#remove(existing, key, this.#entries[existing] as CacheEntry, 'replaced')
      return
    }
    if (existing !== undefined) {
      const old = this.#entries[existing] as CacheEntry
      this.#bytes += weight - (this.#weights[existing] as number)
      this.#entries[existing] = entry
      this.#weights[existing] = weight
      if (existing !== this.#head) this.#moveToHead(existing)
      this.#notify(key, old, 'replaced')
    } else {
      const slot = this.#allocate()
      this.#keys[slot] = key
      this.#entries[slot] = entry
      this.#weights[slot] = weight
      this.#index.set(key, slot)
      this.#bytes += weight
      this.#linkAtHead(slot)
    }
    this.#evictIfNeeded()
  }

  setMany(entries: readonly (readonly [key: string, entry: CacheEntry])[]): void {
    for (const [key, entry] of entries) this.set(key, entry)
  }

  delete(key: string): boolean {
    const slot = this.#index.get(key)
    if (slot === undefined) return false
    this.#remove(slot, key, this.#entries[slot] as CacheEntry, 'deleted')
    return true
  }

  deleteMany(keys: readonly string[]): number {
    let n = 0
    for (const key of keys) if (this.delete(key)) n++
    return n
  }

  clear(): void {
    const onEvict = this.#onEvict
    if (onEvict !== undefined) this.forEach((entry, key) => this.#notify(key, entry, 'cleared'))
    this.#index.clear()
    this.#keys = []
    this.#entries = []
    this.#free = []
    this.#size = 0
    this.#head = NONE
    this.#tail = NONE
    this.#bytes = 0
  }

  close(): void {
    this.clear()
  }

  forEach(fn: (entry: CacheEntry, key: string) => void): void {
    const now = this.#clock.now()
    for (let slot = this.#head; slot !== NONE; slot = this.#next[slot] as number) {
      const entry = this.#entries[slot] as CacheEntry
      if (entry.staleUntil > now) fn(entry, this.#keys[slot] as string)
    }
  }

  stats(): L1StoreStats {
    return {
      entries: this.#index.size,
      bytes: this.#bytes,
      maxBytes: this.#maxBytes,
      evictions: this.#evictions,
      expirations: this.#expirations,
    }
  }

  #evictIfNeeded(): void {
    while (this.#bytes > this.#maxBytes && this.#tail !== NONE) {
      const slot = this.#tail
      const entry = this.#entries[slot] as CacheEntry
      const expired = entry.staleUntil <= this.#clock.now()
      if (expired) this.#expirations++
      else this.#evictions++
      this.#remove(slot, this.#keys[slot] as string, entry, expired ? 'expired' : 'capacity')
    }
  }

  #allocate(): number {
    const reused = this.#free.pop()
    if (reused !== undefined) return reused
    const slot = this.#size++
    if (slot >= this.#next.length) this.#grow()
    return slot
  }

  #grow(): void {
    const capacity = this.#next.length * 2
    const next = new Uint32Array(capacity)
    next.set(this.#next)
    this.#next = next
    const prev = new Uint32Array(capacity)
    prev.set(this.#prev)
    this.#prev = prev
    const weights = new Float64Array(capacity)
    weights.set(this.#weights)
    this.#weights = weights
  }

  #remove(slot: number, key: string, entry: CacheEntry, reason: EvictionReason): void {
    this.#unlink(slot)
    this.#index.delete(key)
    this.#bytes -= this.#weights[slot] as number
    this.#keys[slot] = undefined
    this.#entries[slot] = undefined
    this.#free.push(slot)
    this.#notify(key, entry, reason)
  }

  #notify(key: string, entry: CacheEntry, reason: EvictionReason): void {
    if (this.#onEvict === undefined) return
    try {
      this.#onEvict(key, entry, reason)
    } catch {
      // A listener must not be able to corrupt the store or fail a cache call.
    }
  }

  #linkAtHead(slot: number): void {
    this.#prev[slot] = NONE
    this.#next[slot] = this.#head
    if (this.#head !== NONE) this.#prev[this.#head] = slot
    this.#head = slot
    if (this.#tail === NONE) this.#tail = slot
  }

  #unlink(slot: number): void {
    const prev = this.#prev[slot] as number
    const next = this.#next[slot] as number
    if (prev === NONE) this.#head = next
    else this.#next[prev] = next
    if (next === NONE) this.#tail = prev
    else this.#prev[next] = prev
  }

  #moveToHead(slot: number): void {
    this.#unlink(slot)
    this.#linkAtHead(slot)
  }
}
