import { collectMetrics } from './prometheus.js'
import type { PrometheusRegistry } from './prometheus.js'
import { loadOptional } from './load-optional.js'
import type { Observable } from './source-of.js'

interface PromClient {
  Registry: new () => PrometheusRegistry & { metrics(): Promise<string>; readonly contentType: string }
}

/**
 * The Prometheus text of one cache or edge, in a registry of its own: what the edge's
 * `/.tiercache/metrics` answers. prom-client is loaded at the first scrape (it is an optional peer
 * dependency): a missing one fails that scrape with E_DEPENDENCY_MISSING, never the edge.
 */
export class MetricsExposition {
  readonly #target: Observable
  #registry: { metrics(): Promise<string>; readonly contentType: string } | undefined

  constructor(target: Observable) {
    this.#target = target
  }

  async render(): Promise<{ contentType: string; text: string }> {
    if (this.#registry === undefined) {
      const prom = loadOptional<PromClient>('prom-client', 'The metrics endpoint')
      const registry = new prom.Registry()
      collectMetrics(this.#target, { registry })
      this.#registry = registry
    }
    return { contentType: this.#registry.contentType, text: await this.#registry.metrics() }
  }
}
