import type { CacheStats } from '../core/stats.js'
import type { EdgeStats } from '../edge/index.js'
import type { CaptureStats } from '../ports/capture.js'
import type { DashboardCache, DashboardEdge } from './dashboard.js'
import type { DatabaseFaults } from './database-faults.js'
import type { LoadGenerator } from './load-generator.js'
import { quantile } from './quantile.js'

/** One second of one layer. Null where nothing happened (no ratio of zero requests). */
export interface LayerPoint {
  readonly rps: number
  readonly hitRatio: number | null
  readonly p50: number | null
  readonly p99: number | null
  readonly evictions: number
  readonly memory: number | null
  readonly errors: number
}

/** One sample: every layer, and the state of the moment. */
export interface Sample {
  readonly t: number
  readonly edge: LayerPoint
  readonly l1: LayerPoint
  readonly l2: LayerPoint | null
  readonly database: LayerPoint
  /** The change capture, when it runs in this process. */
  readonly capture: CapturePoint | null
  readonly state: State
}

/** The change capture at one sample: commit to published, and what waits. */
export interface CapturePoint {
  /** Commit to published (ms) of its newest batch; null before the first change. */
  readonly lagMs: number | null
  readonly maxLagMs: number | null
  /** Changes waiting in the outbox, as of its last poll. */
  readonly depth: number
  /** Changes published per second. */
  readonly rps: number
  readonly published: number
  readonly active: boolean
}

export interface State {
  readonly edgeBreaker: string
  readonly l2Breaker: string | null
  readonly bus: { readonly name: string | null; readonly connected: boolean }
  readonly keys: { readonly l1: number; readonly edge: number }
  readonly memory: { readonly l1: number; readonly l1Max: number; readonly edge: number; readonly edgeMax: number }
  readonly pendingInvalidations: number
  readonly staleServed: number
  readonly loaderErrors: number
  /** L2 calls that failed or timed out since the start (each fell back to L1 or the loader); null without L2. */
  readonly l2Failures: number | null
  readonly edgeStale: number
  readonly originErrors: number
}

/** How many samples are kept (one a second: the last five minutes). */
export const HISTORY = 300

interface Previous { at: number; edge: EdgeStats; cache: CacheStats; db: { queries: number; errors: number }; published: number }

/**
 * Samples every layer once a second from the counters the stack keeps anyway (`edge.stats()`,
 * `cache.stats()`, the database's query counter) and turns their differences into rates.
 * Latencies: the edge's are what the load generator's clients measured; the database's are the
 * queries' own; L1 and L2 answer in microseconds and have none shown. The change capture's lag
 * and outbox depth are its own stats (`capture.stats()`), when it runs in this process.
 */
export class Sampler {
  readonly history: Sample[] = []
  readonly #cache: DashboardCache
  readonly #edge: DashboardEdge
  readonly #db: DatabaseFaults
  readonly #load: LoadGenerator
  readonly #capture: { stats(): CaptureStats } | undefined
  #previous: Previous

  constructor(cache: DashboardCache, edge: DashboardEdge, db: DatabaseFaults, load: LoadGenerator, capture?: { stats(): CaptureStats }) {
    this.#cache = cache
    this.#edge = edge
    this.#db = db
    this.#load = load
    this.#capture = capture
    this.#previous = { at: performance.now(), edge: edge.stats(), cache: cache.stats(), db: db.take(), published: capture?.stats().published ?? 0 }
  }

  sample(): Sample {
    const now = performance.now()
    const edge = this.#edge.stats()
    const cache = this.#cache.stats()
    const db = this.#db.take()
    const p = this.#previous
    const dt = Math.max(0.001, (now - p.at) / 1000)
    const rate = (n: number): number => Math.max(0, n) / dt
    const ratio = (hits: number, total: number): number | null => (total > 0 ? hits / total : null)
    const latencies = this.#load.takeLatencies()
    const served = (s: EdgeStats): number => s.results.hit + s.results.stale + s.results.revalidated
    const looked = (s: EdgeStats): number => served(s) + s.results.miss + s.results.collapsed + s.results.pass
    const edgePoint: LayerPoint = {
      rps: rate(looked(edge) + edge.results.error - looked(p.edge) - p.edge.results.error),
      hitRatio: ratio(served(edge) - served(p.edge), looked(edge) - looked(p.edge)),
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      evictions: rate(edge.storage.evictions - p.edge.storage.evictions),
      memory: edge.storage.bytes,
      errors: rate(edge.originErrors + edge.originTimeouts - p.edge.originErrors - p.edge.originTimeouts),
    }
    const l1 = cache.l1
    const pl1 = p.cache.l1
    const l1Point: LayerPoint = l1 === undefined || pl1 === undefined
      ? { rps: 0, hitRatio: null, p50: null, p99: null, evictions: 0, memory: null, errors: 0 }
      : {
        rps: rate(l1.hits + l1.misses - pl1.hits - pl1.misses),
        hitRatio: ratio(l1.hits - pl1.hits, l1.hits + l1.misses - pl1.hits - pl1.misses),
        p50: null, p99: null,
        evictions: rate(l1.evictions - pl1.evictions),
        memory: l1.bytes,
        errors: 0,
      }
    const l2 = cache.l2
    const pl2 = p.cache.l2
    const l2Point: LayerPoint | null = l2 === undefined || pl2 === undefined ? null : {
      rps: rate(l2.hits + l2.misses - pl2.hits - pl2.misses),
      hitRatio: ratio(l2.hits - pl2.hits, l2.hits + l2.misses - pl2.hits - pl2.misses),
      p50: null, p99: null,
      evictions: 0,
      memory: null,
      errors: rate(l2.errors + l2.timeouts - pl2.errors - pl2.timeouts),
    }
    const durations = db.durations
    const dbPoint: LayerPoint = {
      rps: rate(db.queries - p.db.queries),
      hitRatio: null,
      p50: quantile(durations, 0.5),
      p99: quantile(durations, 0.99),
      evictions: 0,
      memory: null,
      errors: rate(db.errors - p.db.errors),
    }
    const c = this.#capture?.stats()
    const capturePoint: CapturePoint | null = c === undefined ? null : {
      lagMs: c.published > 0 ? c.lagMs : null,
      maxLagMs: c.published > 0 ? c.maxLagMs : null,
      depth: c.depth,
      rps: rate(c.published - p.published),
      published: c.published,
      active: c.active,
    }
    const sample: Sample = {
      t: Date.now(),
      edge: edgePoint,
      l1: l1Point,
      l2: l2Point,
      database: dbPoint,
      capture: capturePoint,
      state: {
        edgeBreaker: edge.breaker,
        l2Breaker: l2?.breaker ?? null,
        bus: { name: cache.coherence.bus ?? null, connected: cache.coherence.bus !== undefined && !cache.coherence.fenced },
        keys: { l1: l1?.entries ?? 0, edge: edge.storage.entries },
        memory: { l1: l1?.bytes ?? 0, l1Max: l1?.maxBytes ?? 0, edge: edge.storage.bytes, edgeMax: edge.storage.maxBytes },
        pendingInvalidations: cache.coherence.pendingInvalidations,
        staleServed: cache.staleServed,
        loaderErrors: cache.loader.errors,
        l2Failures: l2 === undefined ? null : l2.errors + l2.timeouts,
        edgeStale: edge.staleServed,
        originErrors: edge.originErrors + edge.originTimeouts + edge.originRejected,
      },
    }
    this.#previous = { at: now, edge, cache, db: { queries: db.queries, errors: db.errors }, published: c?.published ?? 0 }
    this.history.push(sample)
    if (this.history.length > HISTORY) this.history.shift()
    return sample
  }
}
