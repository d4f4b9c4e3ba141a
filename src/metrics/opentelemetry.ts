import { assertKnownKeys, isRecord } from '../core/call-options.js'
import { InvalidOptionError } from '../core/errors.js'
import type { Family, Labels } from './family.js'
import { LATENCY_BOUNDS_SECONDS } from './family.js'
import { loadOptional } from './load-optional.js'
import type { Observable } from './source-of.js'
import { sourceOf } from './source-of.js'

/** Attributes of an OpenTelemetry measurement. */
type Attributes = Record<string, string>

/** The part of an `@opentelemetry/api` `Meter` the exporter uses (any 1.x meter fits). */
export interface OpenTelemetryMeter {
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): OpenTelemetryObservable
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OpenTelemetryObservable
  createHistogram(name: string, options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } }): { record(value: number, attributes?: Attributes): void }
}

interface OpenTelemetryObservable {
  addCallback(callback: (result: { observe(value: number, attributes?: Attributes): void }) => void): void
  removeCallback(callback: (result: { observe(value: number, attributes?: Attributes): void }) => void): void
}

/** Options of {@link collectOpenTelemetryMetrics}. */
export interface OpenTelemetryOptions {
  /** The meter instruments are created on. Default: `metrics.getMeter('tiercache')` from `@opentelemetry/api`. */
  meter?: OpenTelemetryMeter
  /** The clock invalidation lag is measured with (ms since the epoch). Default `Date.now`. */
  now?: () => number
}

const KNOWN = new Set(['meter', 'now'])

/**
 * The instrument name of a family: its Prometheus name without `_total` (OpenTelemetry's Prometheus
 * exporter adds it back to counters), and the unit carried apart (`s`, `By`). So a pipeline from
 * OpenTelemetry to Prometheus ends with the names `collectMetrics` exposes.
 */
export function instrumentOf(family: Family): { name: string; unit: string | undefined } {
  const name = family.name.replace(/_total$/, '')
  const unit = name.endsWith('_seconds') ? 's' : name.endsWith('_bytes') ? 'By' : undefined
  return { name, unit }
}

/**
 * The same metric families as {@link collectMetrics}, on an OpenTelemetry meter (`@opentelemetry/api`
 * only: the SDK, readers and exporters are the application's). Counters and gauges are observable
 * instruments read from `stats()` at collection time; histograms are recorded as the channels
 * report loads, applied invalidations and (for an edge, process-wide) origin responses.
 */
export function collectOpenTelemetryMetrics(target: Observable, options: OpenTelemetryOptions = {}): { close(): void } {
  const given: unknown = options
  if (!isRecord(given)) throw new InvalidOptionError('options', 'an object', given)
  assertKnownKeys(given, KNOWN)
  const meter = options.meter ?? loadOptional<{ metrics: { getMeter(name: string): OpenTelemetryMeter } }>('@opentelemetry/api', 'collectOpenTelemetryMetrics without a meter option').metrics.getMeter('tiercache')
  if (typeof (meter as Partial<OpenTelemetryMeter> | null)?.createObservableCounter !== 'function') {
    throw new InvalidOptionError('meter', 'an OpenTelemetry Meter', meter)
  }
  if (options.now !== undefined && typeof options.now !== 'function') throw new InvalidOptionError('now', 'a function returning ms since the epoch', options.now)
  const histograms = new Map<string, { record(value: number, attributes?: Attributes): void }>()
  const source = sourceOf(target, options.now ?? Date.now, (family: string, labels: Labels, value: number) => {
    histograms.get(family)?.record(value, { ...labels })
  })
  const detach: (() => void)[] = []
  for (const family of source.families) {
    const { name, unit } = instrumentOf(family)
    const described = { description: family.help, ...(unit === undefined ? {} : { unit }) }
    if (family.type === 'histogram') {
      histograms.set(family.name, meter.createHistogram(name, { ...described, advice: { explicitBucketBoundaries: [...LATENCY_BOUNDS_SECONDS] } }))
      continue
    }
    const instrument = family.type === 'counter' ? meter.createObservableCounter(name, described) : meter.createObservableGauge(name, described)
    const callback = (result: { observe(value: number, attributes?: Attributes): void }): void => {
      for (const s of family.read()) result.observe(s.value, { ...s.labels })
    }
    instrument.addCallback(callback)
    detach.push(() => instrument.removeCallback(callback))
  }
  let closed = false
  return {
    close: () => {
      if (closed) return
      closed = true
      source.close()
      for (const d of detach) d()
    },
  }
}
