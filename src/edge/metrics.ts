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

/** Upper bounds (ms) of the origin latency histogram. */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

/** What `edge.stats()` returns: counters since the edge was created. */
export interface EdgeStats {
  readonly id: string
  readonly requests: number
  /** Every request counted once, by how it was answered (they sum to the requests answered). */
  readonly results: Readonly<Record<EdgeResult, number>>
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

  notStoredBecause(reason: string): void {
    this.notStored.set(reason, (this.notStored.get(reason) ?? 0) + 1)
  }
}

/** Prometheus text exposition (format 0.0.4) of {@link EdgeStats}. Labels are bounded. */
export function prometheusText(s: EdgeStats): string {
  const lines: string[] = []
  const counter = (name: string, help: string, samples: readonly [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
  }
  const gauge = (name: string, help: string, value: number): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`)
  }
  counter('tiercache_edge_requests_total', 'Client requests by how they were answered; each request is counted once.',
    EDGE_RESULTS.map((r) => [`{result="${r}"}`, s.results[r]]))
  counter('tiercache_edge_stale_served_total', 'Stale responses served.', [
    ['{reason="stale-while-revalidate"}', s.staleWhileRevalidate],
    ['{reason="stale-if-error"}', s.staleIfError],
  ])
  counter('tiercache_edge_revalidations_total', 'Conditional requests sent to the origin.', [['{result="sent"}', s.revalidations], ['{result="not-modified"}', s.notModified]])
  counter('tiercache_edge_collapsed_total', 'Requests that shared another request\'s origin fetch.', [['', s.collapsed]])
  counter('tiercache_edge_stored_total', 'Responses stored.', [['', s.stored]])
  counter('tiercache_edge_not_stored_total', 'Responses not stored, by reason.', Object.entries(s.notStored).map(([r, n]) => [`{reason="${r}"}`, n]))
  // Each request sent is counted once: it got response headers, failed, or timed out waiting for them.
  counter('tiercache_edge_origin_requests_total', 'Requests sent to the origin, by outcome; each request is counted once.', [
    ['{outcome="response"}', s.originRequests - s.originErrors - s.originTimeouts],
    ['{outcome="error"}', s.originErrors],
    ['{outcome="timeout"}', s.originTimeouts],
  ])
  counter('tiercache_edge_origin_rejected_total', 'Origin requests not sent because the origin breaker was open.', [['', s.originRejected]])
  counter('tiercache_edge_origin_body_timeouts_total', 'Origin bodies abandoned after stalling longer than originBodyTimeout.', [['', s.originBodyTimeouts]])
  counter('tiercache_edge_fills_cancelled_total', 'Fills cancelled by a purge of what they were fetching.', [['', s.fillsCancelled]])
  counter('tiercache_edge_waiters_refused_total', 'Requests refused because a fill had maxWaitersPerFill waiters.', [['', s.waitersRefused]])
  counter('tiercache_edge_bytes_total', 'Body bytes.', [['{direction="served"}', s.bytesServed], ['{direction="from-origin"}', s.bytesFromOrigin]])
  counter('tiercache_edge_purges_total', 'Purges applied.', [['', s.purges]])
  counter('tiercache_edge_purge_batches_total', 'Batches purges were applied in.', [['', s.purgeBatches]])
  counter('tiercache_edge_purges_rate_limited_total', 'Purge API requests refused by the rate limit.', [['', s.purgesRateLimited]])
  counter('tiercache_edge_purged_entries_total', 'Entries removed or marked stale by purges.', [['', s.purgedEntries]])
  counter('tiercache_edge_purge_refused_total', 'Purge API requests refused (bad or missing token).', [['', s.purgeRefused]])
  counter('tiercache_edge_bus_gaps_total', 'Invalidation stream gaps (everything was marked stale).', [['', s.busGaps]])
  lines.push('# HELP tiercache_edge_origin_latency_seconds Origin response-header latency.', '# TYPE tiercache_edge_origin_latency_seconds histogram')
  let cumulative = 0
  LATENCY_BUCKETS_MS.forEach((le, i) => {
    cumulative += s.originLatency.buckets[i] ?? 0
    lines.push(`tiercache_edge_origin_latency_seconds_bucket{le="${le / 1000}"} ${cumulative}`)
  })
  lines.push(`tiercache_edge_origin_latency_seconds_bucket{le="+Inf"} ${s.originLatency.count}`)
  lines.push(`tiercache_edge_origin_latency_seconds_sum ${s.originLatency.sumMs / 1000}`)
  lines.push(`tiercache_edge_origin_latency_seconds_count ${s.originLatency.count}`)
  gauge('tiercache_edge_origin_breaker_open', 'Origin circuit breaker open (1) or not (0).', s.breaker === 'open' ? 1 : 0)
  gauge('tiercache_edge_storage_entries', 'Entries in the in-process storage.', s.storage.entries)
  gauge('tiercache_edge_storage_bytes', 'Bytes in the in-process storage.', s.storage.bytes)
  counter('tiercache_edge_storage_errors_total', 'Shared storage calls that failed or timed out.', [['', s.storage.errors]])
  return `${lines.join('\n')}\n`
}
