import type { BreakerState } from './circuit-breaker.js'

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
