import type { Clock } from '../ports/clock.js'
import type { CacheEntry } from '../ports/entry.js'
import type { L1Policy } from '../l1/create-l1-store.js'
import { DEFAULT_L1_POLICY, createL1Store } from '../l1/create-l1-store.js'
import type { L1Store } from '../ports/store.js'
import type { EdgeStorage, EdgeStorageStats, PurgeSelector } from './edge-storage.js'
import { recordEntry } from './edge-storage.js'
import type { EdgeRecord } from './stored-response.js'

/**
 * Records changed per turn of the event loop in a large purge: removing one from the store costs
 * about 10 µs, so a slice holds the loop for a few milliseconds at most.
 */
export const PURGE_SLICE = 256
/** URLs a prefix purge walks per turn of the event loop (a string comparison each per prefix). */
const URL_SLICE = 4_096

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * In-process storage: an L1 store (byte-bounded, built by the shared factory) plus a tag index and
 * a URL index so purges by tag and by URL cost what they remove, not the size of the cache.
 * Prefix purges walk the URL index (one entry per URL, not per variant).
 */
export class MemoryStorage implements EdgeStorage {
  readonly type = 'memory'
  readonly #store: L1Store
  readonly #byTag = new Map<string, Set<string>>()
  readonly #byUrl = new Map<string, Set<string>>()
  /** The record each key was indexed with, so a replacement unindexes exactly what was indexed. */
  readonly #indexed = new Map<string, EdgeRecord>()
  readonly #clock: Clock

  constructor(maxBytes: number, clock: Clock, policy: L1Policy = DEFAULT_L1_POLICY) {
    this.#clock = clock
    this.#store = createL1Store({
      policy,
      maxBytes,
      clock,
      onEvict: (key, _entry, reason) => {
        if (reason !== 'replaced') this.#unindex(key)
      },
    })
  }

  get(key: string): EdgeRecord | undefined {
    return this.#store.get(key)?.value as EdgeRecord | undefined
  }

  /** Reads without touching recency (purges, diagnostics). */
  peek(key: string): EdgeRecord | undefined {
    return this.#store.peek(key)?.value as EdgeRecord | undefined
  }

  set(key: string, record: EdgeRecord): void {
    const entry: CacheEntry = recordEntry(record, this.#clock.now())
    this.#unindex(key)
    this.#store.set(key, entry)
    // The store refuses an entry larger than its whole budget (and drops the older copy).
    if (this.#store.peek(key) === entry) this.#index(key, record)
  }

  delete(key: string): void {
    this.#store.delete(key)
  }

  /**
   * Small purges (tags and URLs naming up to {@link PURGE_SLICE} records) are applied at once. A
   * prefix purge, or one touching more records, is applied in slices with a turn of the event loop
   * between them, so cache hits keep being served while it walks the URL index and removes records.
   */
  purge(selector: PurgeSelector, soft: boolean, now: number): number | Promise<number> {
    const keys = this.#select(selector)
    const prefixes = selector.prefixes ?? []
    if (prefixes.length === 0 && keys.size <= PURGE_SLICE) return this.#apply([...keys], soft, now)
    return this.#purgeInSlices(keys, prefixes, soft, now)
  }

  async #purgeInSlices(keys: Set<string>, prefixes: readonly string[], soft: boolean, now: number): Promise<number> {
    if (prefixes.length > 0) {
      // A snapshot: URLs stored while the walk runs came from fills the purge fence already judged.
      const urls = [...this.#byUrl.keys()]
      for (let i = 0; i < urls.length; i += URL_SLICE) {
        if (i > 0) await nextTurn()
        const end = Math.min(i + URL_SLICE, urls.length)
        for (let j = i; j < end; j++) {
          const url = urls[j] as string
          if (prefixes.some((p) => url.startsWith(p))) for (const key of this.#byUrl.get(url) ?? []) keys.add(key)
        }
      }
    }
    const all = [...keys]
    let n = 0
    for (let i = 0; i < all.length; i += PURGE_SLICE) {
      if (i > 0) await nextTurn()
      n += this.#apply(all.slice(i, i + PURGE_SLICE), soft, now)
    }
    return n
  }

  #apply(keys: readonly string[], soft: boolean, now: number): number {
    let n = 0
    for (const key of keys) {
      if (!soft) {
        if (this.#store.delete(key)) n++
        continue
      }
      const record = this.peek(key)
      if (record === undefined) continue
      if (record.kind === 'response') {
        if (record.freshUntil > now) this.set(key, record.with({ invalidatedAt: now }))
        n++
      }
    }
    return n
  }

  stats(): EdgeStorageStats {
    const s = this.#store.stats()
    return { type: 'memory', entries: s.entries, bytes: s.bytes, maxBytes: s.maxBytes, evictions: s.evictions, errors: 0, skipped: 0, breaker: 'closed' }
  }

  close(): Promise<void> {
    this.#store.close()
    this.#byTag.clear()
    this.#byUrl.clear()
    this.#indexed.clear()
    return Promise.resolve()
  }

  /** The keys a purge names directly: by tag, by URL, or every key. Prefixes are walked by the caller. */
  #select(selector: PurgeSelector): Set<string> {
    if (selector.all === true) return new Set(this.#indexed.keys())
    const keys = new Set<string>()
    for (const tag of selector.tags ?? []) for (const key of this.#byTag.get(tag) ?? []) keys.add(key)
    for (const url of selector.urls ?? []) for (const key of this.#byUrl.get(url) ?? []) keys.add(key)
    return keys
  }

  #index(key: string, record: EdgeRecord): void {
    this.#indexed.set(key, record)
    addTo(this.#byUrl, record.url, key)
    if (record.kind === 'response') for (const tag of record.tags) addTo(this.#byTag, tag, key)
  }

  #unindex(key: string): void {
    const record = this.#indexed.get(key)
    if (record === undefined) return
    this.#indexed.delete(key)
    removeFrom(this.#byUrl, record.url, key)
    if (record.kind === 'response') for (const tag of record.tags) removeFrom(this.#byTag, tag, key)
  }
}

function addTo(map: Map<string, Set<string>>, name: string, key: string): void {
  let set = map.get(name)
  if (set === undefined) {
    set = new Set()
    map.set(name, set)
  }
  set.add(key)
}

function removeFrom(map: Map<string, Set<string>>, name: string, key: string): void {
  const set = map.get(name)
  if (set === undefined) return
  set.delete(key)
  if (set.size === 0) map.delete(name)
}
