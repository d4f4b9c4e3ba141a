/**
 * `tiercache/metrics`: Prometheus (prom-client) and OpenTelemetry exporters for a cache or an edge.
 * prom-client and @opentelemetry/api are optional peer dependencies, loaded only when no registry
 * or meter is given.
 */
export { collectMetrics } from './prometheus.js'
export type { CollectMetricsOptions, MetricsCollection, PrometheusRegistry } from './prometheus.js'
export { collectOpenTelemetryMetrics } from './opentelemetry.js'
export type { OpenTelemetryMeter, OpenTelemetryOptions } from './opentelemetry.js'
export { MetricsConflictError } from './errors.js'
export { LATENCY_BOUNDS_SECONDS } from './family.js'
export type { Observable } from './source-of.js'
