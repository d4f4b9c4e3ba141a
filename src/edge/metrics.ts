import diagnostics from 'node:diagnostics_channel'
import type { BreakerState } from '../core/circuit-breaker.js'
import type { EdgeStorageStats } from './edge-storage.js'

/**
 * Edge telemetry through `diagnostics_channel`. Publishers check `hasSubscribers` first. Messages
 * carry only bounded fields (result, behavior pattern, status class, reason): never the URL, the key
 * or a tag, so an exporter can use every field as a label.
 */
export const edgeChannels = {
  /** A client request finished: `{ result, behavior, status, bytes }`. */
  request: diagnostics.channel('tiercache:edge:request'),
  /** An origin request settled: `{ outcome: 'response' | 'error' | 'timeout', status, durationMs, conditional }`. */
  origin: diagnostics.channel('tiercache:edge:origin'),
  /** A purge was applied: `{ source: 'api' | 'bus' | 'unsafe-method' | 'gap', soft, entries }`. */
  purge: diagnostics.channel('tiercache:edge:purge'),
  /** The origin breaker changed state: `{ from, to }`. */
  breaker: diagnostics.channel('tiercache:edge:breaker'),
} as const

/** Every edge channel name. */
export const EDGE_CHANNEL_NAMES = ['tiercache:edge:request', 'tiercache:edge:origin', 'tiercache:edge:purge', 'tiercache:edge:breaker'] as const

/** How a client request was answered (a bounded label set). */
export type EdgeResult =
  | 'hit' | 'miss' | 'stale' | 'revalidated' | 'collapsed' | 'pass' | 'error' | 'admin' | 'rejected' | 'aborted'

/** Every {@link EdgeResult}, in the order metrics list them. */
export const EDGE_RESULTS: readonly EdgeResult[] = ['hit', 'miss', 'stale', 'revalidated', 'collapsed', 'pass', 'error', 'admin', 'rejected', 'aborted']

/** Status classes of client responses (a bounded label set). */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx'

/** Every {@link StatusClass}. */
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx']

/** Upper bounds (ms) of the origin latency histogram. */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

/** What `edge.stats()` returns: counters since the edge was created. */
export interface EdgeStats {
  readonly id: string
  readonly requests: number
  /** Every request counted once, by how it was answered (they sum to the requests answered). */
  readonly results: Readonly<Record<EdgeResult, number>>
  /** Client responses by status class, the edge's own endpoints excluded. */
  readonly statusClasses: Readonly<Record<StatusClass, number>>
  /** Served from storage without contacting the origin. */
  readonly hits: number
  /** Needed the origin (including revalidations and collapsed followers' leaders). */
  readonly misses: number
  /** Stale responses served: stale-while-revalidate plus stale-if-error. */
  readonly staleServed: number
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  /** Conditional requests sent to the origin, and how many came back 304. */
  readonly revalidations: number
  readonly notModified: number
  /** Requests that waited on another request's origin fetch instead of sending their own. */
  readonly collapsed: number
  /** Requests forwarded without the cache (uncacheable method, body, hit-for-pass...). */
  readonly passes: number
  readonly stored: number
  /** Responses not stored, by reason. */
  readonly notStored: Readonly<Record<string, number>>
  /** Requests sent to the origin; of which errors (no response) and timeouts (no headers in time). */
  readonly originRequests: number
  readonly originErrors: number
  readonly originTimeouts: number
  /** Origin bodies abandoned because they stalled longer than `originBodyTimeout`. */
  readonly originBodyTimeouts: number
  /** Fills cancelled by a purge of what they were fetching. */
  readonly fillsCancelled: number
  /** Requests refused with 503 because a fill already had `maxWaitersPerFill` waiters. */
  readonly waitersRefused: number
  /** Requests refused while the origin breaker was open. */
  readonly originRejected: number
  readonly breaker: BreakerState
  /** Body bytes sent to clients, and received from the origin. */
  readonly bytesServed: number
  readonly bytesFromOrigin: number
  readonly originLatency: { readonly count: number; readonly sumMs: number; readonly buckets: readonly number[] }
  /** Purges applied (API, bus, unsafe methods), and the batches they were applied in. */
  readonly purges: number
  readonly purgeBatches: number
  readonly purgedEntries: number
  /** Purge API requests refused with 429 (rate limit). */
  readonly purgesRateLimited: number
  /** Requests refused before reaching the cache (malformed, too large, method not allowed, loops). */
  readonly rejected: number
  readonly purgeRefused: number
  readonly busGaps: number
  readonly storage: EdgeStorageStats
}

/** Mutable counters behind {@link EdgeStats}: plain fields, an increment on the hot path. */
export class EdgeCounters {
  requests = 0
  hits = 0
  misses = 0
  swr = 0
  sie = 0
  revalidations = 0
  notModified = 0
  collapsed = 0
  passes = 0
  stored = 0
  readonly notStored = new Map<string, number>()
  originRequests = 0
  originErrors = 0
  originTimeouts = 0
  originBodyTimeouts = 0
  originRejected = 0
  fillsCancelled = 0
  waitersRefused = 0
  purgeBatches = 0
  purgesRateLimited = 0
  readonly results: Record<EdgeResult, number> = {
    hit: 0, miss: 0, stale: 0, revalidated: 0, collapsed: 0, pass: 0, error: 0, admin: 0, rejected: 0, aborted: 0,
  }
  readonly statusClasses: Record<StatusClass, number> = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }
  bytesServed = 0
  bytesFromOrigin = 0
  latencyCount = 0
  latencySum = 0
  readonly latencyBuckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0)
  purges = 0
  purgedEntries = 0
  rejected = 0
  purgeRefused = 0
  busGaps = 0

  observeOrigin(ms: number): void {
    this.latencyCount++
    this.latencySum += ms
    let i = 0
    while (i < LATENCY_BUCKETS_MS.length && ms > (LATENCY_BUCKETS_MS[i] as number)) i++
    this.latencyBuckets[i] = (this.latencyBuckets[i] as number) + 1
  }

  /** Counts a client response by its status class (statuses outside 100-599 are not counted). */
  answered(status: number): void {
    const cls = STATUS_CLASSES[Math.floor(status / 100) - 1]
    if (cls !== undefined) this.statusClasses[cls]++
  }

  notStoredBecause(reason: string): void {
    this.notStored.set(reason, (this.notStored.get(reason) ?? 0) + 1)
  }
}
