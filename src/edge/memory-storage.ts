import type { Clock } from '../ports/clock.js'
import type { CacheEntry } from '../ports/entry.js'
import type { L1Policy } from '../l1/create-l1-store.js'
import { DEFAULT_L1_POLICY, createL1Store } from '../l1/create-l1-store.js'
import type { L1Store } from '../ports/store.js'
import type { EdgeStorage, EdgeStorageStats, PurgeSelector } from './edge-storage.js'
import { recordEntry } from './edge-storage.js'
import type { EdgeRecord } from './stored-response.js'

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

  purge(selector: PurgeSelector, soft: boolean, now: number): number {
    const keys = this.#select(selector)
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

  #select(selector: PurgeSelector): string[] {
    if (selector.all === true) return [...this.#indexed.keys()]
    const keys = new Set<string>()
    for (const tag of selector.tags ?? []) for (const key of this.#byTag.get(tag) ?? []) keys.add(key)
    for (const url of selector.urls ?? []) for (const key of this.#byUrl.get(url) ?? []) keys.add(key)
    const prefixes = selector.prefixes ?? []
    if (prefixes.length > 0) {
      for (const [url, set] of this.#byUrl) {
        if (prefixes.some((p) => url.startsWith(p))) for (const key of set) keys.add(key)
      }
    }
    return [...keys]
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
