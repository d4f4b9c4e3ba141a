/**
 * A cached value with the metadata every tier keeps. Times are absolute epoch milliseconds from the
 * cache's {@link Clock}. Lifecycle: fresh until `freshUntil`, then stale (served only by fail-safe)
 * until `staleUntil`, then gone. Entries are immutable once built: tiers share them by reference.
 */
export interface CacheEntry {
  /** The value. In L1 this is what callers receive (treated as immutable unless `clone` is on). */
  readonly value: unknown
  /** The serialized value, when the tier has it (L2 always, L1 only with `clone: true`). */
  readonly bytes?: Buffer | undefined
  /** Approximate bytes this entry holds: serialized length, used for L1 weighing. */
  readonly size: number
  readonly createdAt: number
  readonly freshUntil: number
  readonly staleUntil: number
  /** Tags with the tag version observed when the value was loaded (see coherence). */
  readonly tags: readonly string[]
  readonly tagVersions?: readonly number[] | undefined
  /** Source version (row version, commit position) the loader reported, or undefined. */
  readonly version?: number | undefined
  /** How long the loader took, for early (XFetch) refresh. */
  readonly loadMs: number
}

/** True while the entry may be served as fresh. */
export function isFresh(entry: CacheEntry, now: number): boolean {
  return entry.freshUntil > now
}

/** True while the entry exists at all (fresh or within grace). */
export function isAlive(entry: CacheEntry, now: number): boolean {
  return entry.staleUntil > now
}
