import type { BreakerState } from '../core/circuit-breaker.js'
import type { CacheEntry } from '../ports/entry.js'
import { EMPTY_TAGS } from '../core/key.js'
import type { EdgeRecord } from './stored-response.js'

/** Which stored responses a purge touches. */
export interface PurgeSelector {
  readonly tags?: readonly string[] | undefined
  /** URL parts (path plus kept query) as built by the behaviors. */
  readonly urls?: readonly string[] | undefined
  /** Prefixes of URL parts. */
  readonly prefixes?: readonly string[] | undefined
  readonly all?: boolean | undefined
}

/** Counters a storage reports in `edge.stats()`. */
export interface EdgeStorageStats {
  readonly type: 'memory' | 'redis'
  readonly entries: number
  readonly bytes: number
  readonly maxBytes: number
  readonly evictions: number
  /** Shared storage calls that failed or timed out (treated as misses). */
  readonly errors: number
  /** Shared storage calls not sent because its breaker was open (always 0 in memory). */
  readonly skipped: number
  /** The shared storage breaker (always `'closed'` in memory). */
  readonly breaker: BreakerState
}

/**
 * Where the edge keeps records. Memory answers synchronously (the hit path is a function call);
 * shared storage returns promises, and the edge checks for a promise in one place.
 */
export interface EdgeStorage {
  readonly type: 'memory' | 'redis'
  get(key: string): EdgeRecord | undefined | Promise<EdgeRecord | undefined>
  set(key: string, record: EdgeRecord): void | Promise<void>
  delete(key: string): void | Promise<void>
  /** Hard purge removes; soft purge marks responses stale at `now` (kept for stale-if-error and validation). */
  purge(selector: PurgeSelector, soft: boolean, now: number): number | Promise<number>
  stats(): EdgeStorageStats
  close(): Promise<void>
}

/** The store entry wrapping a record: times and tags for the store, the record as the value. */
export function recordEntry(record: EdgeRecord, now: number): CacheEntry {
  if (record.kind === 'vary') {
    return { value: record, size: record.size, createdAt: now, freshUntil: record.staleUntil, staleUntil: record.staleUntil, tags: EMPTY_TAGS, loadMs: 0 }
  }
  return {
    value: record,
    size: record.size,
    createdAt: record.responseTime,
    freshUntil: record.freshUntil,
    staleUntil: record.staleUntil,
    tags: record.tags,
    loadMs: 0,
  }
}
