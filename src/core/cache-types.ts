import type { Duration } from './duration.js'

/** Options accepted by per-call methods (`set`, `getOrSet`). */
export interface EntryOptions {
  /** Freshness. */
  ttl?: Duration
  /** How long past freshness a value may still be served when the loader fails. */
  grace?: Duration
  /** Tags for group invalidation. */
  tags?: readonly string[]
}

/** What a loader receives. */
export interface LoaderContext {
  readonly key: string
  /** Aborted when the hard timeout passes: pass it to fetch/pg so the work stops too. */
  readonly signal: AbortSignal
  /** The stale value being replaced, if any (for conditional loads). */
  readonly staleValue: unknown
  /** Overrides the TTL of the value being loaded (for example from an upstream Cache-Control). */
  setTtl(ttl: Duration): void
  /**
   * Records the source version (row version, commit position) of the value being loaded. A value
   * older than the last invalidation of its key that carried a version is not stored.
   */
  setVersion(version: number): void
}

/** A loader: fetches the value from the source of truth. */
export type Loader<T> = (context: LoaderContext) => T | Promise<T>

/** Options of `getOrSet`. */
export interface GetOrSetOptions extends EntryOptions {
  /** Hard timeout for this load (see `CacheOptions.timeout`). */
  timeout?: Duration
  /** Soft timeout for this load (see `CacheOptions.softTimeout`). */
  softTimeout?: Duration
  /**
   * Refresh hot keys before they expire, in the background. `true`: probabilistic early
   * expiration (XFetch: the longer the load took, the earlier). A number in (0, 1): refresh once
   * the entry is older than that fraction of its TTL.
   */
  refreshAhead?: boolean | number
}

/** Options of `set`. */
export interface SetOptions extends EntryOptions {
  /**
   * Source version of the value (row version, commit position). A write older than what the
   * cache has seen for the key (a stored newer version, or a newer invalidation) is dropped, so
   * two write-through writers racing cannot leave the older value behind.
   */
  version?: number
}

/** One entry of `setMany`. */
export interface SetManyItem<T = unknown> extends EntryOptions {
  key: string
  value: T
}

/** What `invalidate` removes. */
export interface Invalidation {
  keys?: readonly string[]
  tags?: readonly string[]
  /** Source version (commit position) of the change: fills of older versions are then rejected. */
  version?: number
}

/** Where a value came from, and whether it is stale. */
export interface CacheResult<T> {
  readonly value: T
  /** True when the value is past its freshness (or its tag was invalidated) and was served by fail-safe. */
  readonly stale: boolean
  readonly source: 'l1' | 'l2' | 'loader'
}


/** What a write-through's source write receives. */
export interface WriteContext {
  readonly key: string
  /**
   * Records the source version of the committed value (row version, commit position). The cache
   * keeps the newest version whatever order concurrent write-throughs finish in; without a version,
   * the last one to reach Redis wins.
   */
  setVersion(version: number): void
}

/** A write-through's source write: commits to the source of truth and returns the committed value. */
export type SourceWrite<T> = (context: WriteContext) => T | Promise<T>

/** Options of `writeThrough`: those of the entry it caches. */
export type WriteThroughOptions = EntryOptions
