/**
 * The metric families tiercache exposes, as plain data: a name that follows the Prometheus
 * conventions (`_total`, `_seconds`, `_bytes`), a help text, a type, and a `read()` that returns
 * the samples at collection time. The Prometheus and OpenTelemetry exporters both render these,
 * so the two never disagree on what is measured, and the edge's own metrics endpoint is the same code.
 *
 * Labels are bounded by construction: namespace, tier, result, op, reason, state, status class.
 * Never a key, a URL or a tag.
 */
export type FamilyType = 'counter' | 'gauge' | 'histogram'

/** Label names and values of one sample. */
export type Labels = Readonly<Record<string, string>>

/** One counter or gauge value. */
export interface Sample {
  readonly labels: Labels
  readonly value: number
}

/** One histogram: upper bounds (seconds, ascending, without +Inf) and per-bucket (non-cumulative) counts. */
export interface HistogramSample {
  readonly labels: Labels
  readonly bounds: readonly number[]
  /** Observations per bucket; one more than `bounds` (the last is above the largest bound). */
  readonly counts: readonly number[]
  readonly sum: number
  readonly count: number
}

interface FamilyBase {
  readonly name: string
  readonly help: string
  /** The unit, when the name ends with it (OpenTelemetry carries the unit apart from the name). */
  readonly unit?: 'seconds' | 'bytes'
}

export interface ScalarFamily extends FamilyBase {
  readonly type: 'counter' | 'gauge'
  read(): readonly Sample[]
}

export interface HistogramFamily extends FamilyBase {
  readonly type: 'histogram'
  read(): readonly HistogramSample[]
}

export type Family = ScalarFamily | HistogramFamily

/**
 * Metric families of one cache or edge, with the channel subscriptions they need. `close()`
 * unsubscribes. `onObserve` lets an exporter that records histograms itself (OpenTelemetry) see
 * every observation the source makes from a channel.
 */
export interface MetricSource {
  readonly kind: 'cache' | 'edge' | 'capture' | 'cdn'
  /** What makes two sources of the same kind distinct in one registry (the namespace, the edge id). */
  readonly identity: string
  readonly families: readonly Family[]
  close(): void
}

/** Called for each histogram observation a source makes from a diagnostics channel. */
export type ObservationListener = (family: string, labels: Labels, value: number) => void

/** Histogram upper bounds, in seconds, shared by every latency histogram (1 ms .. 30 s). */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
