import { RELATIVE_ERROR } from './histogram.js'
import type { Histogram } from './histogram.js'
import type { LoadResult } from './run-load.js'
import type { StackDelta } from './stack-stats.js'

/** Latency quantiles in ms. */
export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
  readonly mean: number
}

/** What `tiercache loadgen --json` prints (format version 1). */
export interface LoadSummary {
  readonly format: 'tiercache-loadgen/1'
  readonly target: string
  readonly writeTarget: string
  readonly mode: 'open' | 'closed'
  readonly offeredRate: number | null
  readonly connections: number
  readonly durationS: number
  readonly keys: number
  readonly zipf: number
  readonly writeShare: number
  readonly sent: number
  readonly completed: number
  readonly reads: number
  readonly writes: number
  /** Requests ended per second of the run. */
  readonly throughput: number
  readonly statuses: Record<string, number>
  readonly statusClasses: Record<string, number>
  readonly errors: { readonly timeouts: number; readonly connection: Record<string, number>; readonly status5xx: number; readonly status4xx: number; readonly total: number }
  /** Latency (ms), open loop from each request's scheduled time; quantiles within the stated relative error. */
  readonly latencyMs: LatencySummary & { readonly relativeError: number }
  readonly readLatencyMs: LatencySummary
  readonly writeLatencyMs: LatencySummary
  readonly maxBacklog: number
  readonly layers: StackDelta
}

export function latencySummary(h: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000
  return { count: h.count, p50: ms(h.quantile(0.5)), p90: ms(h.quantile(0.9)), p99: ms(h.quantile(0.99)), p999: ms(h.quantile(0.999)), max: ms(h.max), mean: ms(h.mean) }
}

export function summarize(result: LoadResult, layers: StackDelta): LoadSummary {
  const { spec } = result
  const seconds = result.elapsedMs / 1000
  const connection = Object.values(result.errors.connection).reduce((a, b) => a + b, 0)
  const status5xx = result.statusClasses['5xx'] ?? 0
  const status4xx = result.statusClasses['4xx'] ?? 0
  return {
    format: 'tiercache-loadgen/1',
    target: spec.target,
    writeTarget: spec.writeTarget,
    mode: spec.mode,
    offeredRate: spec.mode === 'open' ? spec.rate : null,
    connections: spec.connections,
    durationS: spec.durationMs / 1000,
    keys: spec.keys,
    zipf: spec.zipf,
    writeShare: spec.writeShare,
    sent: result.sent,
    completed: result.completed,
    reads: result.reads,
    writes: result.writes,
    throughput: seconds === 0 ? 0 : result.completed / seconds,
    statuses: result.statuses,
    statusClasses: result.statusClasses,
    errors: { timeouts: result.errors.timeouts, connection: result.errors.connection, status5xx, status4xx, total: result.errors.timeouts + connection + status5xx + status4xx },
    latencyMs: { ...latencySummary(result.latency), relativeError: RELATIVE_ERROR },
    readLatencyMs: latencySummary(result.readLatency),
    writeLatencyMs: latencySummary(result.writeLatency),
    maxBacklog: result.maxBacklog,
    layers,
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const pct = (r: number | null): string => (r === null ? 'no lookups' : `${(r * 100).toFixed(1)}%`)

/** The summary as lines for a terminal. */
export function formatSummary(s: LoadSummary): string {
  const l = s.latencyMs
  const lines = [
    `tiercache loadgen: ${s.mode === 'open' ? `open loop at ${int(s.offeredRate ?? 0)}/s (${s.connections} connections at most)` : `closed loop, ${s.connections} connections`} for ${s.durationS} s against ${s.target}`,
    `  keys ${int(s.keys)}, Zipf ${s.zipf}, writes ${(s.writeShare * 100).toFixed(1)}%${s.writeShare > 0 ? ` (to ${s.writeTarget})` : ''}`,
    '',
    `  requests     ${int(s.completed)} ended of ${int(s.sent)} sent (${int(s.reads)} reads, ${int(s.writes)} writes)`,
    `  throughput   ${int(s.throughput)}/s`,
    `  latency      p50 ${l.p50} ms   p90 ${l.p90} ms   p99 ${l.p99} ms   p99.9 ${l.p999} ms   max ${l.max} ms   (${s.mode === 'open' ? 'from each request\'s scheduled time; ' : ''}quantiles within ${RELATIVE_ERROR * 100}%)`,
    `  statuses     ${Object.entries(s.statusClasses).sort().map(([k, v]) => `${k} ${int(v)}`).join('   ') || 'none'}`,
    `  errors       ${int(s.errors.total)}: 5xx ${int(s.errors.status5xx)}, 4xx ${int(s.errors.status4xx)}, timeouts ${int(s.errors.timeouts)}, connection ${Object.entries(s.errors.connection).map(([k, v]) => `${k} ${int(v)}`).join(', ') || '0'}`,
  ]
  if (s.mode === 'open' && s.maxBacklog > 0) lines.push(`  backlog      up to ${int(s.maxBacklog)} requests waited for a free connection (raise --connections if the server can take more)`)
  lines.push('', '  layers (counter deltas over the run)')
  const { edge, l1, l2, db } = s.layers
  lines.push('unavailable' in edge ? `    edge       not measured: ${edge.unavailable}`
    : `    edge       hit ratio ${pct(edge.hitRatio)} (${int(edge.hits)} hits, ${int(edge.misses)} misses, ${int(edge.passes)} passed through)`)
  lines.push('unavailable' in l1 ? `    L1         not measured: ${l1.unavailable}` : `    L1         hit ratio ${pct(l1.hitRatio)} (${int(l1.hits)} hits, ${int(l1.misses)} misses)`)
  lines.push('unavailable' in l2 ? `    L2 Redis   not measured: ${l2.unavailable}`
    : `    L2 Redis   hit ratio ${pct(l2.hitRatio)} (${int(l2.hits)} hits, ${int(l2.misses)} misses, ${int(l2.errors)} errors or timeouts)`)
  lines.push('unavailable' in db ? `    database   not measured: ${db.unavailable}` : `    database   ${db.perSecond.toFixed(1)} queries/s (${int(db.queries)} queries${db.reads === null ? '' : `, of which ${int(db.reads)} reads: ${(db.readsPerSecond ?? 0).toFixed(1)}/s`})`)
  return `${lines.join('\n')}\n`
}

/** One progress line (a terminal redraws it in place). */
export function progressLine(p: { elapsedMs: number; completed: number; failed: number; inFlight: number; latency: Histogram }, durationMs: number, lastCompleted: number): string {
  return `${(p.elapsedMs / 1000).toFixed(0)}/${(durationMs / 1000).toFixed(0)} s  ${int(p.completed - lastCompleted)}/s  done ${int(p.completed)}  failed ${int(p.failed)}  in flight ${int(p.inFlight)}  p99 ${(p.latency.quantile(0.99) / 1000).toFixed(1)} ms  max ${(p.latency.max / 1000).toFixed(1)} ms`
}
