import diagnostics from 'node:diagnostics_channel'
import type { BreakerState } from '../core/circuit-breaker.js'
import type { CacheStats } from '../core/stats.js'
import { BucketHistogram, LabelledCounter } from './bucket-histogram.js'
import type { Family, Labels, MetricSource, ObservationListener, Sample } from './family.js'
import { LATENCY_BOUNDS_SECONDS } from './family.js'
import { snapshotOf } from './snapshot.js'

/** What a cache source reads: `cache.stats()`. */
export interface StatsReader {
  stats(): CacheStats
}

/** The reasons a stale value is served, as published on `tiercache:stale` (anything else is `other`). */
const STALE_REASONS = ['loader-error', 'soft-timeout', 'hard-timeout', 'backoff', 'lease-held'] as const
/** Why L1 was flushed, folded from the free-text reason on `tiercache:flush` to a bounded set. */
const FLUSH_REASONS = ['clear', 'gap', 'disconnected', 'started', 'other'] as const
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open']

function flushReason(text: string): (typeof FLUSH_REASONS)[number] {
  if (text === 'clear') return 'clear'
  if (text.startsWith('bus gap')) return 'gap'
  if (text.startsWith('bus disconnected')) return 'disconnected'
  if (text === 'bus started') return 'started'
  return 'other'
}

interface LoadMessage { namespace: string; durationMs: number; ok: boolean; timedOut: boolean }
interface StaleMessage { namespace: string; reason: string }
interface FlushMessage { namespace: string; reason: string }
interface InvalidatedMessage { namespace: string; at: number }

/**
 * The metric families of one cache. Counters and gauges are read from `cache.stats()` when
 * collected (the hit path already keeps those counters: an exporter adds nothing to it). The
 * channels give what stats do not: loader durations, stale reasons, flush reasons, bus lag. None of
 * them is published on the hit path, and messages of other namespaces are ignored.
 */
export function cacheSource(cache: StatsReader, now: () => number, onObserve?: ObservationListener): MetricSource {
  const namespace = cache.stats().namespace
  const ns = { namespace }
  const loaderDuration = new BucketHistogram(LATENCY_BOUNDS_SECONDS)
  const busLag = new BucketHistogram(LATENCY_BOUNDS_SECONDS)
  const stale = new LabelledCounter(STALE_REASONS.map((reason) => ({ namespace, reason })))
  const flushes = new LabelledCounter(FLUSH_REASONS.map((reason) => ({ namespace, reason })))
  const observe = (histogram: BucketHistogram, family: string, labels: Labels, seconds: number): void => {
    histogram.observe(labels, seconds)
    onObserve?.(family, labels, seconds)
  }
  const subscriptions: [string, (message: unknown) => void][] = [
    ['tiercache:load', (m) => {
      const msg = m as LoadMessage
      if (msg.namespace !== namespace) return
      const result = msg.ok ? 'ok' : msg.timedOut ? 'timeout' : 'error'
      observe(loaderDuration, 'tiercache_loader_duration_seconds', { namespace, result }, Math.max(0, msg.durationMs) / 1000)
    }],
    ['tiercache:stale', (m) => {
      const msg = m as StaleMessage
      if (msg.namespace !== namespace) return
      stale.add({ namespace, reason: (STALE_REASONS as readonly string[]).includes(msg.reason) ? msg.reason : 'other' })
    }],
    ['tiercache:flush', (m) => {
      const msg = m as FlushMessage
      if (msg.namespace === namespace) flushes.add({ namespace, reason: flushReason(msg.reason) })
    }],
    ['tiercache:invalidated', (m) => {
      const msg = m as InvalidatedMessage
      if (msg.namespace !== namespace) return
      // `at` is the publisher's clock: across machines the lag includes their clock skew.
      observe(busLag, 'tiercache_bus_lag_seconds', ns, Math.max(0, now() - msg.at) / 1000)
    }],
  ]
  for (const [name, fn] of subscriptions) diagnostics.subscribe(name, fn)

  const stats = snapshotOf(() => cache.stats())
  const one = (value: number, labels: Labels = ns): Sample[] => [{ labels, value }]
  const l1 = <T>(read: (l: NonNullable<CacheStats['l1']>) => T): T | undefined => { const s = stats().l1; return s === undefined ? undefined : read(s) }
  const l2 = <T>(read: (l: NonNullable<CacheStats['l2']>) => T): T | undefined => { const s = stats().l2; return s === undefined ? undefined : read(s) }

  const families: Family[] = [
    {
      name: 'tiercache_requests_total', type: 'counter',
      help: 'Reads looked up in a tier, by tier and result (hit or miss); the hit ratio of a tier is hit / (hit + miss).',
      read: () => {
        const s = stats()
        const out: Sample[] = []
        if (s.l1 !== undefined) out.push({ labels: { namespace, tier: 'l1', result: 'hit' }, value: s.l1.hits }, { labels: { namespace, tier: 'l1', result: 'miss' }, value: s.l1.misses })
        if (s.l2 !== undefined) out.push({ labels: { namespace, tier: 'l2', result: 'hit' }, value: s.l2.hits }, { labels: { namespace, tier: 'l2', result: 'miss' }, value: s.l2.misses })
        return out
      },
    },
    { name: 'tiercache_loader_calls_total', type: 'counter', help: 'Loader calls started.', read: () => one(stats().loader.calls) },
    { name: 'tiercache_loader_errors_total', type: 'counter', help: 'Loader calls that threw or rejected (a timed-out loader that then rejects is counted here too).', read: () => one(stats().loader.errors) },
    { name: 'tiercache_loader_timeouts_total', type: 'counter', help: 'Loader calls that passed their hard timeout.', read: () => one(stats().loader.timeouts) },
    { name: 'tiercache_loader_coalesced_total', type: 'counter', help: 'Callers that joined a load already in flight instead of starting one.', read: () => one(stats().loader.coalesced) },
    { name: 'tiercache_loader_refreshes_total', type: 'counter', help: 'Loads started early by refresh-ahead.', read: () => one(stats().loader.refreshes) },
    { name: 'tiercache_loader_duration_seconds', type: 'histogram', unit: 'seconds', help: 'Loader duration, by result (ok, error, timeout).', read: () => loaderDuration.read() },
    { name: 'tiercache_stale_served_total', type: 'counter', help: 'Stale values served by fail-safe, by reason (loader-error, soft-timeout, hard-timeout, backoff, lease-held).', read: () => stale.read() },
    { name: 'tiercache_l1_entries', type: 'gauge', help: 'Entries in L1.', read: () => l1((s) => one(s.entries)) ?? [] },
    { name: 'tiercache_l1_bytes', type: 'gauge', unit: 'bytes', help: 'Bytes held by L1 (serialized size of its entries).', read: () => l1((s) => one(s.bytes)) ?? [] },
    { name: 'tiercache_l1_max_bytes', type: 'gauge', unit: 'bytes', help: 'The bound of L1 (l1.maxBytes).', read: () => l1((s) => one(s.maxBytes)) ?? [] },
    { name: 'tiercache_l1_evictions_total', type: 'counter', help: 'Entries L1 evicted to stay within its bound.', read: () => l1((s) => one(s.evictions)) ?? [] },
    { name: 'tiercache_l1_expirations_total', type: 'counter', help: 'Entries L1 dropped because they expired.', read: () => l1((s) => one(s.expirations)) ?? [] },
    { name: 'tiercache_l1_flushes_total', type: 'counter', help: 'Times L1 was flushed because invalidations may have been missed, by reason (clear, gap, disconnected, started, other).', read: () => flushes.read() },
    { name: 'tiercache_l2_errors_total', type: 'counter', help: 'L2 calls that failed (connection refused, lost, or unanswered).', read: () => l2((s) => one(s.errors)) ?? [] },
    { name: 'tiercache_l2_timeouts_total', type: 'counter', help: 'L2 calls that did not answer within l2.timeout.', read: () => l2((s) => one(s.timeouts)) ?? [] },
    { name: 'tiercache_l2_skipped_total', type: 'counter', help: 'L2 calls not attempted because the breaker was open.', read: () => l2((s) => one(s.skipped)) ?? [] },
    { name: 'tiercache_l2_rejected_total', type: 'counter', help: 'L2 commands Redis answered with an error reply (never held against the breaker).', read: () => l2((s) => one(s.rejected)) ?? [] },
    { name: 'tiercache_l2_corrupt_total', type: 'counter', help: 'Entries read from L2 that could not be decoded.', read: () => l2((s) => one(s.corrupt)) ?? [] },
    {
      name: 'tiercache_breaker_state', type: 'gauge', help: 'Circuit breaker of a tier: 1 for its current state (closed, open, half-open), 0 for the others.',
      read: () => l2((s) => BREAKER_STATES.map((state) => ({ labels: { namespace, tier: 'l2', state }, value: s.breaker === state ? 1 : 0 }))) ?? [],
    },
    {
      name: 'tiercache_bus_connected', type: 'gauge', help: 'The invalidation bus is connected (1) or not (0: L1 entries get short freshness, then L1 is flushed).',
      read: () => { const c = stats().coherence; return c.bus === undefined ? [] : one(c.fenced ? 0 : 1) },
    },
    { name: 'tiercache_bus_lag_seconds', type: 'histogram', unit: 'seconds', help: 'Time from publishing an invalidation to applying it to this L1 (publisher clock to this clock).', read: () => busLag.read() },
    {
      name: 'tiercache_bus_gaps_total', type: 'counter', help: 'Gaps in the invalidation stream (each flushed L1).',
      read: () => flushes.read().filter((s) => s.labels.reason === 'gap').map((s) => ({ labels: ns, value: s.value })),
    },
    {
      name: 'tiercache_invalidations_pending', type: 'gauge', help: 'Invalidations not yet confirmed by Redis and the bus, being retried (op: keys or prefix).',
      read: () => {
        const c = stats().coherence
        return [{ labels: { namespace, op: 'keys' }, value: c.pendingInvalidations }, { labels: { namespace, op: 'prefix' }, value: c.pendingPrefixInvalidations }]
      },
    },
  ]
  return {
    kind: 'cache',
    identity: namespace,
    families,
    close: () => { for (const [name, fn] of subscriptions) diagnostics.unsubscribe(name, fn) },
  }
}
