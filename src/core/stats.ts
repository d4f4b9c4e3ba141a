import type { BreakerState } from './circuit-breaker.js'
import type { Coherence } from './coherence.js'
import type { L1Tier } from './l1-tier.js'
import type { SharedTier } from './shared-tier.js'

/** What `cache.stats()` returns: counters since the cache was created, per layer. */
export interface CacheStats {
  readonly namespace: string
  readonly l1: {
    readonly hits: number
    readonly misses: number
    readonly entries: number
    readonly bytes: number
    readonly maxBytes: number
    readonly evictions: number
    readonly expirations: number
  } | undefined
  readonly l2: {
    readonly hits: number
    readonly misses: number
    readonly errors: number
    readonly timeouts: number
    /** Calls not attempted because the breaker was open. */
    readonly skipped: number
    /** Calls Redis answered with an error reply for that one command (never held against the breaker). */
    readonly rejected: number
    readonly breaker: BreakerState
    /** Entries read from L2 that could not be decoded (dropped and treated as misses). */
    readonly corrupt: number
  } | undefined
  readonly loader: {
    readonly calls: number
    readonly errors: number
    readonly timeouts: number
    /** Callers that joined a load already in flight instead of starting their own. */
    readonly coalesced: number
    /** Loads started early by refresh-ahead. */
    readonly refreshes: number
  }
  /** Stale values served (fail-safe, soft timeout, backoff, another process loading). */
  readonly staleServed: number
  readonly coherence: {
    /** The bus followed (`redis-stream`, `memory`), or undefined without one. */
    readonly bus: string | undefined
    /** True while the bus is disconnected: L1 entries are written with short freshness. */
    readonly fenced: boolean
    /** Times L1 was flushed because invalidations may have been missed (gap, disconnect, clear). */
    readonly flushes: number
    /** Invalidations not yet confirmed by Redis and the bus, being retried. */
    readonly pendingInvalidations: number
    /** Prefix invalidations still clearing L2 in the background (Redis failed midway). */
    readonly pendingPrefixInvalidations: number
  }
}

/** Builds {@link CacheStats} from the counters and the tiers. */
export function collectStats(namespace: string, c: Counters, l1Tier: L1Tier, shared: SharedTier | undefined, coherence: Coherence,
  pendingPrefixes: number): CacheStats {
  const l1 = l1Tier.stats()
  const guard = shared?.guard
  return {
    namespace,
    l1: l1 === undefined ? undefined : { hits: c.l1Hits, misses: c.l1Misses, ...l1 },
    l2: guard === undefined ? undefined : {
      hits: c.l2Hits,
      misses: c.l2Misses,
      errors: guard.stats.errors,
      timeouts: guard.stats.timeouts,
      skipped: guard.stats.skipped,
      rejected: guard.stats.rejected,
      breaker: guard.breakerState,
      corrupt: (shared?.store.counters?.().corrupt ?? 0),
    },
    loader: { calls: c.loaderCalls, errors: c.loaderErrors, timeouts: c.loaderTimeouts, coalesced: c.coalesced, refreshes: c.refreshes },
    staleServed: c.staleServed,
    coherence: {
      bus: coherence.bus?.name,
      fenced: l1Tier.fenced,
      flushes: c.flushes,
      pendingInvalidations: coherence.pendingInvalidations,
      pendingPrefixInvalidations: pendingPrefixes,
    },
  }
}

/** Mutable counters behind {@link CacheStats}; plain fields so the hot path is an increment. */
export class Counters {
  l1Hits = 0
  l1Misses = 0
  l2Hits = 0
  l2Misses = 0
  l2Corrupt = 0
  loaderCalls = 0
  loaderErrors = 0
  loaderTimeouts = 0
  coalesced = 0
  refreshes = 0
  staleServed = 0
  flushes = 0
}
