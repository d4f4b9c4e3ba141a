import diagnostics from 'node:diagnostics_channel'
import type { EdgeStats } from '../edge/metrics.js'
import { EDGE_RESULTS, LATENCY_BUCKETS_MS, STATUS_CLASSES } from '../edge/metrics.js'
import type { Family, MetricSource, ObservationListener, Sample } from './family.js'
import { snapshotOf } from './snapshot.js'

/** What an edge source reads: `edge.stats()`. */
export interface EdgeStatsReader {
  stats(): EdgeStats
}

const BOUNDS_SECONDS = LATENCY_BUCKETS_MS.map((ms) => ms / 1000)

/**
 * The metric families of one edge, read from `edge.stats()` when collected: the edge keeps these
 * counters (and its origin latency buckets) anyway, so a scrape costs one snapshot and the request
 * path nothing. With `onObserve` (OpenTelemetry records histograms itself), origin latencies are
 * also taken from the `tiercache:edge:origin` channel: that channel is per process, not per edge.
 */
export function edgeSource(edge: EdgeStatsReader, onObserve?: ObservationListener): MetricSource {
  const stats = snapshotOf(() => edge.stats())
  const counter = (name: string, help: string, read: (s: EdgeStats) => readonly (readonly [Record<string, string>, number])[]): Family => ({
    name, help, type: 'counter', read: () => read(stats()).map(([labels, value]): Sample => ({ labels, value })),
  })
  const single = (name: string, help: string, read: (s: EdgeStats) => number, type: 'counter' | 'gauge' = 'counter', unit?: 'bytes'): Family => ({
    name, help, type, ...(unit === undefined ? {} : { unit }), read: () => [{ labels: {}, value: read(stats()) }],
  })
  const families: Family[] = [
    counter('tiercache_edge_requests_total', 'Client requests by how they were answered; each request is counted once.',
      (s) => EDGE_RESULTS.map((result) => [{ result }, s.results[result]])),
    counter('tiercache_edge_responses_total', 'Client responses by status class (1xx .. 5xx), the edge\'s own endpoints excluded.',
      (s) => STATUS_CLASSES.map((status_class) => [{ status_class }, s.statusClasses[status_class]])),
    counter('tiercache_edge_stale_served_total', 'Stale responses served.',
      (s) => [[{ reason: 'stale-while-revalidate' }, s.staleWhileRevalidate], [{ reason: 'stale-if-error' }, s.staleIfError]]),
    counter('tiercache_edge_revalidations_total', 'Conditional requests sent to the origin.',
      (s) => [[{ result: 'sent' }, s.revalidations], [{ result: 'not-modified' }, s.notModified]]),
    single('tiercache_edge_collapsed_total', 'Requests that shared another request\'s origin fetch.', (s) => s.collapsed),
    single('tiercache_edge_stored_total', 'Responses stored.', (s) => s.stored),
    counter('tiercache_edge_not_stored_total', 'Responses not stored, by reason.', (s) => Object.entries(s.notStored).map(([reason, n]) => [{ reason }, n])),
    // Each request sent is counted once: it got response headers, failed, or timed out waiting for them.
    counter('tiercache_edge_origin_requests_total', 'Requests sent to the origin, by outcome; each request is counted once.', (s) => [
      [{ outcome: 'response' }, s.originRequests - s.originErrors - s.originTimeouts],
      [{ outcome: 'error' }, s.originErrors],
      [{ outcome: 'timeout' }, s.originTimeouts],
    ]),
    single('tiercache_edge_origin_rejected_total', 'Origin requests not sent because the origin breaker was open.', (s) => s.originRejected),
    single('tiercache_edge_origin_body_timeouts_total', 'Origin bodies abandoned after stalling longer than originBodyTimeout.', (s) => s.originBodyTimeouts),
    single('tiercache_edge_fills_cancelled_total', 'Fills cancelled by a purge of what they were fetching.', (s) => s.fillsCancelled),
    single('tiercache_edge_waiters_refused_total', 'Requests refused because a fill had maxWaitersPerFill waiters.', (s) => s.waitersRefused),
    counter('tiercache_edge_bytes_total', 'Body bytes.', (s) => [[{ direction: 'served' }, s.bytesServed], [{ direction: 'from-origin' }, s.bytesFromOrigin]]),
    single('tiercache_edge_purges_total', 'Purges applied.', (s) => s.purges),
    single('tiercache_edge_purge_batches_total', 'Batches purges were applied in.', (s) => s.purgeBatches),
    single('tiercache_edge_purges_rate_limited_total', 'Purge API requests refused by the rate limit.', (s) => s.purgesRateLimited),
    single('tiercache_edge_purged_entries_total', 'Entries removed or marked stale by purges.', (s) => s.purgedEntries),
    single('tiercache_edge_purge_refused_total', 'Purge API requests refused (bad or missing token).', (s) => s.purgeRefused),
    single('tiercache_edge_bus_gaps_total', 'Invalidation stream gaps (everything was marked stale).', (s) => s.busGaps),
    {
      name: 'tiercache_edge_origin_latency_seconds', type: 'histogram', unit: 'seconds', help: 'Origin response-header latency.',
      read: () => {
        const l = stats().originLatency
        return [{ labels: {}, bounds: BOUNDS_SECONDS, counts: l.buckets, sum: l.sumMs / 1000, count: l.count }]
      },
    },
    single('tiercache_edge_origin_breaker_open', 'Origin circuit breaker open (1) or not (0).', (s) => (s.breaker === 'open' ? 1 : 0), 'gauge'),
    single('tiercache_edge_storage_entries', 'Entries in the edge\'s storage.', (s) => s.storage.entries, 'gauge'),
    single('tiercache_edge_storage_bytes', 'Bytes in the edge\'s storage.', (s) => s.storage.bytes, 'gauge', 'bytes'),
    single('tiercache_edge_storage_max_bytes', 'The bound of the edge\'s in-process storage.', (s) => s.storage.maxBytes, 'gauge', 'bytes'),
    single('tiercache_edge_storage_evictions_total', 'Entries the edge\'s storage evicted to stay within its bound.', (s) => s.storage.evictions),
    single('tiercache_edge_storage_errors_total', 'Shared storage calls that failed or timed out.', (s) => s.storage.errors),
  ]
  const onOrigin = (m: unknown): void => {
    const msg = m as { outcome: string; durationMs: number }
    if (msg.outcome === 'response') onObserve?.('tiercache_edge_origin_latency_seconds', {}, Math.max(0, msg.durationMs) / 1000)
  }
  if (onObserve !== undefined) diagnostics.subscribe('tiercache:edge:origin', onOrigin)
  return {
    kind: 'edge',
    identity: edge.stats().id,
    families,
    close: () => { if (onObserve !== undefined) diagnostics.unsubscribe('tiercache:edge:origin', onOrigin) },
  }
}
