import { assertKnownKeys, isRecord } from '../core/call-options.js'
import { InvalidOptionError } from '../core/errors.js'
import { MetricsConflictError } from './errors.js'
import type { Family, MetricSource } from './family.js'
import { loadOptional } from './load-optional.js'
import type { Observable } from './source-of.js'
import { sourceOf } from './source-of.js'

/**
 * The part of a prom-client `Registry` the exporter uses. Any prom-client 15 registry fits (the
 * caller's own copy of prom-client too: nothing here is checked with instanceof).
 */
export interface PrometheusRegistry {
  registerMetric(metric: never): void
  getSingleMetric(name: string): unknown
  removeSingleMetric(name: string): void
}

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global `register`. */
  registry?: PrometheusRegistry
  /** The clock invalidation lag is measured with (ms since the epoch, like the publisher's). Default `Date.now`. */
  now?: () => number
}

/** A running collection: `close()` unregisters the cache or edge and stops listening. */
export interface MetricsCollection {
  /** The metric names this collection contributes to. */
  readonly names: readonly string[]
  close(): void
}

const KNOWN = new Set(['registry', 'now'])

/**
 * One metric in a registry, fed by every cache (or edge) collected into that registry: caches are
 * told apart by their namespace label, so several share one family. prom-client calls `get()` on
 * each scrape; counters and gauges are read from `stats()` then, histograms are kept as buckets.
 * The object has the shape prom-client's registry renders (name, help, type, aggregator, get).
 */
class SharedMetric {
  name: string
  readonly help: string
  readonly type: Family['type']
  readonly aggregator = 'sum'
  readonly members = new Map<string, Family>()

  constructor(family: Family) {
    this.name = family.name
    this.help = family.help
    this.type = family.type
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName?: string }[] }> {
    const values: { labels: Record<string, string | number>; value: number; metricName?: string }[] = []
    for (const family of this.members.values()) {
      if (family.type !== 'histogram') {
        for (const s of family.read()) values.push({ labels: { ...s.labels }, value: s.value })
        continue
      }
      for (const h of family.read()) {
        let cumulative = 0
        h.bounds.forEach((le, i) => {
          cumulative += h.counts[i] ?? 0
          values.push({ metricName: `${this.name}_bucket`, labels: { ...h.labels, le }, value: cumulative })
        })
        values.push({ metricName: `${this.name}_bucket`, labels: { ...h.labels, le: '+Inf' }, value: h.count })
        values.push({ metricName: `${this.name}_sum`, labels: { ...h.labels }, value: h.sum })
        values.push({ metricName: `${this.name}_count`, labels: { ...h.labels }, value: h.count })
      }
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values })
  }

  /** `registry.resetMetrics()` calls this: the values are the cache's own counters, so there is nothing to reset. */
  reset(): void {}
}

const shared = new WeakMap<object, Map<string, SharedMetric>>()

/**
 * Exposes a cache's or an edge's metrics in a prom-client registry: requests and hits per tier,
 * loader calls, errors and durations, stale values served, L1 memory and evictions, L2 errors and
 * breaker, bus lag and gaps, L1 flushes; for an edge, requests by result and status class, origin
 * latency, purges, storage. Nothing is added to the hit path: counters are read at scrape time from
 * the counters the cache keeps anyway, and the channels listened to (loads, stale values, flushes,
 * applied invalidations) are off it.
 */
export function collectMetrics(target: Observable, options: CollectMetricsOptions = {}): MetricsCollection {
  const given: unknown = options
  if (!isRecord(given)) throw new InvalidOptionError('options', 'an object', given)
  assertKnownKeys(given, KNOWN)
  const registry = options.registry ?? loadOptional<{ register: PrometheusRegistry }>('prom-client', 'collectMetrics without a registry option').register
  if (typeof (registry as Partial<PrometheusRegistry> | null)?.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw new InvalidOptionError('registry', 'a prom-client Registry', registry)
  }
  if (options.now !== undefined && typeof options.now !== 'function') throw new InvalidOptionError('now', 'a function returning ms since the epoch', options.now)
  const source = sourceOf(target, options.now ?? Date.now)
  try {
    return attach(registry, source)
  } catch (error) {
    source.close()
    throw error
  }
}

function attach(registry: PrometheusRegistry, source: MetricSource): MetricsCollection {
  let metrics = shared.get(registry)
  if (metrics === undefined) {
    metrics = new Map()
    shared.set(registry, metrics)
  }
  const member = `${source.kind}:${source.identity}`
  // Check everything before registering anything: a refused source leaves the registry as it was.
  for (const family of source.families) {
    const existing = registry.getSingleMetric(family.name)
    const ours = metrics.get(family.name)
    if (existing !== undefined && existing !== ours) {
      throw new MetricsConflictError(`the registry already has a metric named ${family.name} that tiercache did not register`, { metric: family.name })
    }
    if (ours?.members.has(member)) {
      throw new MetricsConflictError(source.kind === 'cache'
        ? `this registry already collects a cache with namespace ${JSON.stringify(source.identity)}: give each cache its own namespace, or its own registry`
        : source.kind === 'edge' ? `this registry already collects the edge ${JSON.stringify(source.identity)}` : 'this registry already collects a change capture',
      { metric: family.name, source: member })
    }
    if (source.kind === 'edge' && ours !== undefined && ours.members.size > 0) {
      // Edge series carry no edge label (one edge per process is the deployment): two would collide.
      throw new MetricsConflictError('this registry already collects an edge: give each edge its own registry', { metric: family.name, source: member })
    }
  }
  for (const family of source.families) {
    let metric = metrics.get(family.name)
    if (metric === undefined) {
      metric = new SharedMetric(family)
      metrics.set(family.name, metric)
      registry.registerMetric(metric as never)
    }
    metric.members.set(member, family)
  }
  let closed = false
  return {
    names: source.families.map((f) => f.name),
    close: () => {
      if (closed) return
      closed = true
      source.close()
      for (const family of source.families) {
        const metric = metrics.get(family.name)
        if (metric === undefined) continue
        metric.members.delete(member)
        if (metric.members.size === 0) {
          metrics.delete(family.name)
          if (registry.getSingleMetric(family.name) === metric) registry.removeSingleMetric(family.name)
        }
      }
    },
  }
}
