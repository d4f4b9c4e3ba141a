import type { CacheEntry } from './entry.js'

/** A value or a promise of it. Stores answer synchronously when they can (L1) and the cache checks once. */
export type MaybePromise<T> = T | Promise<T>

/**
 * The store port: where entries live. L1 implementations answer synchronously; L2 (Redis) returns
 * promises. Keys are the caller's keys: a store applies its own namespace.
 *
 * Contract (test/contract/store-contract.ts runs it against every adapter):
 * - `get` returns the entry until its `staleUntil`, then `undefined`; freshness is the cache's call.
 * - `set` replaces any previous entry; `delete` returns whether something was removed.
 * - `getMany` answers in the order of `keys`, `undefined` for misses.
 * - `clear` removes every entry of this store's namespace and nothing else.
 * - Errors mean the store failed; a miss is never an error.
 */
export interface CacheStore {
  readonly name: string
  get(key: string): MaybePromise<CacheEntry | undefined>
  getMany(keys: readonly string[]): MaybePromise<(CacheEntry | undefined)[]>
  set(key: string, entry: CacheEntry): MaybePromise<void>
  setMany(entries: readonly (readonly [key: string, entry: CacheEntry])[]): MaybePromise<void>
  delete(key: string): MaybePromise<boolean>
  deleteMany(keys: readonly string[]): MaybePromise<number>
  clear(): MaybePromise<void>
  close(): MaybePromise<void>
  /** Entries that could not be decoded and were treated as misses. */
  counters?(): { corrupt: number }
}

/** Why an entry left an L1 store. */
export type EvictionReason = 'capacity' | 'expired' | 'deleted' | 'replaced' | 'cleared'

/** Counters an L1 store keeps for `cache.stats()`. */
export interface L1StoreStats {
  readonly entries: number
  readonly bytes: number
  readonly maxBytes: number
  readonly evictions: number
  readonly expirations: number
}

/**
 * The synchronous L1 port. Every method answers without a promise: the hit path of the cache is a
 * plain function call.
 */
export interface L1Store extends CacheStore {
  get(key: string): CacheEntry | undefined
  getMany(keys: readonly string[]): (CacheEntry | undefined)[]
  set(key: string, entry: CacheEntry): void
  setMany(entries: readonly (readonly [key: string, entry: CacheEntry])[]): void
  delete(key: string): boolean
  deleteMany(keys: readonly string[]): number
  clear(): void
  close(): void
  /** Looks at an entry without counting an access or touching the eviction order. */
  peek(key: string): CacheEntry | undefined
  /** Calls `fn` for each live entry (for tag sweeps and diagnostics; O(n), never on a hot path). */
  forEach(fn: (entry: CacheEntry, key: string) => void): void
  stats(): L1StoreStats
}
