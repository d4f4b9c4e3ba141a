import type { CacheEntry } from './entry.js'
import type { CacheStore } from './store.js'

/** What {@link CoherentStore.readForFill} found. */
export type LeaseRead =
  /** A fresh entry is there: use it. */
  | { readonly status: 'fresh'; readonly entry: CacheEntry }
  /** No fresh entry, and this caller now holds the fill lease (`entry` is the stale one, if any). */
  | { readonly status: 'acquired'; readonly entry: CacheEntry | undefined }
  /** No fresh entry, and another caller holds the lease: it is loading. */
  | { readonly status: 'held'; readonly entry: CacheEntry | undefined }

/** Outcome of a fenced write. */
export type FillResult =
  /** Written. */
  | 'ok'
  /** The lease was voided (the key was invalidated or set while loading) or expired: not written. */
  | 'lost'
  /** The value's source version is older than the last invalidation of the key: not written. */
  | 'outdated'

/**
 * The shared tier's coherence capabilities (Facebook-style leases, version tombstones, versioned
 * tags). The Redis store implements them atomically in Lua; the cache uses them when present and
 * falls back to plain reads and writes otherwise.
 */
export interface CoherentStore extends CacheStore {
  /**
   * Reads an entry for a fill: a fresh entry (by `now`) is returned as is; otherwise the caller
   * tries to take the lease with `token` for `leaseMs`. `force` skips the freshness test (the
   * caller found the entry invalid for another reason, e.g. a tag was invalidated).
   */
  readForFill(key: string, token: string, leaseMs: number, now: number, force: boolean): Promise<LeaseRead>
  /** Writes a loaded entry only while `token` still holds the lease and no newer version was invalidated. */
  fillWithLease(key: string, entry: CacheEntry, token: string): Promise<FillResult>
  /** Gives the lease back (the load failed), so waiters stop waiting. Only the holder's token releases it. */
  releaseLease(key: string, token: string): Promise<void>
  /** An explicit write: replaces the entry and voids any lease (fills in flight read older data). */
  setEntry(key: string, entry: CacheEntry): Promise<FillResult>
  /**
   * `setEntry` for several keys in as few round trips as the store can (Redis standalone: one
   * script call per 200 keys). Optional; answers one result per entry, in order.
   */
  setEntries?(entries: readonly (readonly [string, CacheEntry])[]): Promise<FillResult[]>
  /**
   * Removes keys and voids their leases; with `version`, also records it so that fills of an older
   * source version are rejected for `tombstoneMs`. A removed entry with a newer version than
   * `version` raises the record to its own version (the invalidation arrived late: writes older than
   * that entry must still lose).
   */
  invalidate(keys: readonly string[], version: number | undefined, tombstoneMs: number): Promise<void>
  /** Current versions of tags (0 for a tag never invalidated). */
  tagVersions(tags: readonly string[]): Promise<number[]>
}

/** True when a store offers the coherence capabilities. */
export function isCoherentStore(store: CacheStore): store is CoherentStore {
  const s = store as Partial<CoherentStore>
  return typeof s.readForFill === 'function' && typeof s.fillWithLease === 'function' && typeof s.invalidate === 'function' &&
    typeof s.tagVersions === 'function' && typeof s.setEntry === 'function' && typeof s.releaseLease === 'function'
}
