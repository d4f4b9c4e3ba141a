import { LRUCache } from 'lru-cache'
import type { CacheEntry } from '../src/ports/entry.js'
import { ManualClock } from '../src/core/manual-clock.js'
import type { TinyLfuStoreOptions } from '../src/l1/tinylfu/tinylfu-store.js'
import { TinyLfuStore } from '../src/l1/tinylfu/tinylfu-store.js'
import type { PolicyResult, Requests } from './id-lists.js'
import { optHits } from './opt.js'

/** One entry object shared by every key: unit size, never expires. */
const ENTRY: CacheEntry = Object.freeze({
  value: 1,
  size: 1,
  createdAt: 0,
  freshUntil: Infinity,
  staleUntil: Infinity,
  tags: [],
  loadMs: 0,
})

/** `String(id)` for every key id, built once per trace so the runs measure policies, not strings. */
export function keyStrings(distinct: number): string[] {
  const keys = new Array<string>(distinct)
  for (let i = 0; i < distinct; i++) keys[i] = `k${i}`
  return keys
}

/**
 * Replays a trace through tiercache's store exactly as the cache drives it (get; on a miss, set),
 * with unit weights: a weigher returning 1 and `maxBytes` equal to the capacity in entries, so the
 * byte-weighted store makes the same decisions an entry-counting one would.
 */
export function tinylfuHits(trace: Int32Array, keys: readonly string[], capacity: number,
  options: Partial<TinyLfuStoreOptions> = {}): number {
  return tinylfuRun({ trace, distinct: keys.length }, keys, capacity, options).hits
}

/**
 * The same replay for any request stream. On a sized trace the store runs with `maxBytes` =
 * `capacity` bytes and a weigher returning each key's size (the entry's `size`), as a user's
 * store weighs entries by their bytes: its size-aware admission then decides.
 */
export function tinylfuRun({ trace, objectSizes: sizes }: Requests, keys: readonly string[], capacity: number,
  options: Partial<TinyLfuStoreOptions> = {}): PolicyResult {
  const store = new TinyLfuStore({
    seed: 42,
    ...options,
    maxBytes: capacity,
    clock: new ManualClock(0),
    weigher: sizes === undefined ? () => 1 : (_key, entry) => entry.size,
  })
  const entries = sizes === undefined ? undefined : new Array<CacheEntry | undefined>(sizes.length)
  let hits = 0
  let byteHits = 0
  for (let i = 0; i < trace.length; i++) {
    const id = trace[i] as number
    const key = keys[id] as string
    if (store.get(key) !== undefined) {
      hits++
      byteHits += sizes === undefined ? 1 : (sizes[id] as number)
    } else if (entries === undefined) {
      store.set(key, ENTRY)
    } else {
      store.set(key, entries[id] ??= Object.freeze({ ...ENTRY, size: (sizes as Uint32Array)[id] as number }))
    }
  }
  const { entries: held, bytes } = store.stats()
  if (bytes > capacity || (sizes === undefined && held > capacity)) throw new Error(`tinylfu held ${bytes} units, capacity ${capacity}`)
  return { hits, byteHits }
}

/** The same replay through `lru-cache` with `max` = capacity. */
export function lruHits(trace: Int32Array, keys: readonly string[], capacity: number): number {
  const cache = new LRUCache<string, number>({ max: capacity })
  let hits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = keys[trace[i] as number] as string
    if (cache.get(key) !== undefined) hits++
    else cache.set(key, 1)
  }
  return hits
}

export { optHits }
