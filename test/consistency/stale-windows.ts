/**
 * Post-processing of what the workers recorded: stale reads, stale windows and propagation latency.
 *
 * - A **stale read** started after the invalidation of a newer write completed (the writer's
 *   `delete`/`invalidate`/`invalidateTags`/`set` had returned) and still returned an older version.
 * - The **stale window** of a committed write is the time from its commit until the last read that
 *   started after the commit and still returned an older version (0 when no read did). It is
 *   measured by observation, so it is a lower bound: staleness nobody read is not seen here (the
 *   end-of-run checker covers staleness that stays).
 * - **Propagation latency** is publish on node A → L1 dropped on node B, from `tiercache:invalidated`
 *   (`at` is the publisher's `Date.now()`, whole milliseconds: samples read up to 1 ms high).
 */
import { READ_SOURCES, WRITE_METHODS } from './protocol.js'
import type { PropagationRecord, ReadRecord, WriteRecord } from './protocol.js'

export interface Distribution {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** Nearest-rank percentiles. */
export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 }
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number
  return { count: sorted.length, p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1] as number }
}

/** A time span during which chaos (a Redis restart, killed connections) was under way or recovering. */
export interface ChaosSpan {
  readonly from: number
  readonly to: number
}

export interface StaleReport {
  readonly reads: number
  readonly writes: number
  /** Reads that started after a newer write's invalidation completed and returned an older version. */
  readonly staleReads: number
  readonly staleReadsBySource: Readonly<Record<string, number>>
  readonly staleReadsByMethod: Readonly<Record<string, number>>
  /** Of those, served with the `stale` flag (fail-safe, lease held by another process). */
  readonly staleReadsFlagged: number
  /** Stale reads outside chaos spans. */
  readonly staleReadsSteady: number
  /**
   * Stale reads after a write whose invalidation was confirmed when the call returned (the writer's
   * outbox was empty): bounded by propagation. The others followed an invalidation that was only
   * queued (Redis or the bus failing) and wait for the outbox.
   */
  readonly staleReadsConfirmed: number
  /** For stale reads after a confirmed invalidation: read start - invalidation complete. */
  readonly staleAgeConfirmed: Distribution
  /** For stale reads: read start - invalidation complete. */
  readonly staleAge: Distribution
  /** Stale windows of every write (0 when no stale read was seen). */
  readonly windows: Distribution
  /** Stale windows of the writes that had one. */
  readonly nonZeroWindows: Distribution
  /** Same, for writes committed outside chaos spans. */
  readonly nonZeroWindowsSteady: Distribution
  readonly nonZeroWindowsByMethod: Readonly<Record<string, Distribution>>
  /** The oldest stale reads after a confirmed invalidation, described (for diagnosis). */
  readonly worstConfirmed: readonly string[]
}

function inSpans(t: number, spans: readonly ChaosSpan[]): boolean {
  return spans.some((s) => t >= s.from && t <= s.to)
}

/**
 * `readsByWorker[i]` and `writesByWorker[i]` are what worker i recorded. Times are epoch ms from
 * `performance.timeOrigin + performance.now()` in each process.
 */
export function analyseStaleness(readsByWorker: readonly (readonly ReadRecord[])[], writesByWorker: readonly (readonly WriteRecord[])[],
  chaos: readonly ChaosSpan[]): StaleReport {
  // Per key, writes indexed by version (row locks serialize commits: versions are consecutive).
  const byKey = new Map<number, WriteRecord[]>()
  const writer = new Map<WriteRecord, number>()
  writesByWorker.forEach((writes, worker) => {
    for (const w of writes) {
      let list = byKey.get(w[0])
      if (list === undefined) byKey.set(w[0], (list = []))
      list.push(w)
      writer.set(w, worker)
    }
  })
  const writes = writesByWorker.flat()
  const worst: { age: number; text: string }[] = []
  for (const list of byKey.values()) list.sort((a, b) => a[1] - b[1])
  const windows = new Map<WriteRecord, number>()
  const bySource: Record<string, number> = {}
  const byMethod: Record<string, number> = {}
  const ages: number[] = []
  const confirmedAges: number[] = []
  let staleReads = 0
  let flagged = 0
  let steady = 0

  readsByWorker.forEach((reads, reader) => { for (const r of reads) {
    const [id, version, start, end, source, staleFlag] = r
    const list = byKey.get(id)
    if (list === undefined) continue
    let firstInvalidated: WriteRecord | undefined
    let firstConfirmed: WriteRecord | undefined
    for (let i = upperBound(list, version); i < list.length; i++) {
      const w = list[i] as WriteRecord
      if (start > w[2]) windows.set(w, Math.max(windows.get(w) ?? 0, start - w[2]))
      if (start > w[3] && (firstInvalidated === undefined || w[3] < firstInvalidated[3])) firstInvalidated = w
      if (start > w[3] && w[5] === 0 && (firstConfirmed === undefined || w[3] < firstConfirmed[3])) firstConfirmed = w
    }
    if (firstConfirmed !== undefined) {
      const age = start - firstConfirmed[3]
      confirmedAges.push(age)
      if (worst.length < 10 || age > (worst[worst.length - 1] as { age: number }).age) {
        const w = firstConfirmed
        worst.push({
          age,
          text: `worker ${reader} read row:${id} v${version} from ${READ_SOURCES[source] ?? source}${staleFlag === 1 ? ' (flagged stale)' : ''} ` +
            `${age.toFixed(1)} ms after worker ${writer.get(w)} finished ${WRITE_METHODS[w[4]]} of v${w[1]} (read took ${(end - start).toFixed(1)} ms)`,
        })
        worst.sort((a, b) => b.age - a.age)
        worst.length = Math.min(worst.length, 10)
      }
    }
    if (firstInvalidated !== undefined) {
      staleReads++
      ages.push(start - firstInvalidated[3])
      const s = READ_SOURCES[source] ?? String(source)
      bySource[s] = (bySource[s] ?? 0) + 1
      const m = WRITE_METHODS[firstInvalidated[4]] ?? String(firstInvalidated[4])
      byMethod[m] = (byMethod[m] ?? 0) + 1
      if (staleFlag === 1) flagged++
      if (!inSpans(start, chaos)) steady++
    }
  } })

  const all = writes.map((w) => windows.get(w) ?? 0)
  const nonZero = [...windows.values()]
  const methodWindows: Record<string, number[]> = {}
  for (const [w, ms] of windows) (methodWindows[WRITE_METHODS[w[4]] ?? String(w[4])] ??= []).push(ms)
  return {
    reads: readsByWorker.reduce((n, r) => n + r.length, 0),
    writes: writes.length,
    staleReads,
    staleReadsBySource: bySource,
    staleReadsByMethod: byMethod,
    staleReadsFlagged: flagged,
    staleReadsSteady: steady,
    staleReadsConfirmed: confirmedAges.length,
    staleAgeConfirmed: distribution(confirmedAges),
    staleAge: distribution(ages),
    windows: distribution(all),
    nonZeroWindows: distribution(nonZero),
    nonZeroWindowsSteady: distribution([...windows].filter(([w]) => !inSpans(w[2], chaos)).map(([, ms]) => ms)),
    nonZeroWindowsByMethod: Object.fromEntries(Object.entries(methodWindows).map(([m, v]) => [m, distribution(v)])),
    worstConfirmed: worst.map((w) => w.text),
  }
}

/** Index of the first write whose version is greater than `version`. */
function upperBound(list: readonly WriteRecord[], version: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((list[mid] as WriteRecord)[1] <= version) lo = mid + 1
    else hi = mid
  }
  return lo
}

export interface PropagationReport {
  readonly all: Distribution
  /** Messages published outside chaos spans (no replay after a reconnect in them). */
  readonly steady: Distribution
  /**
   * Outside chaos spans, messages of writes whose writer's outbox was empty after the call: the bus
   * path itself. The others include the time a message waited in an outbox (its `at` is the first
   * attempt), after a Redis step failed or timed out.
   */
  readonly direct: Distribution
}

export function analysePropagation(samples: readonly PropagationRecord[], writes: readonly WriteRecord[], chaos: readonly ChaosSpan[]): PropagationReport {
  // A message is matched to the write of its row whose invalidation call spans its `at` (whole ms).
  const byId = new Map<number, WriteRecord[]>()
  for (const w of writes) {
    let list = byId.get(w[0])
    if (list === undefined) byId.set(w[0], (list = []))
    list.push(w)
  }
  const direct = (at: number, id: number): boolean =>
    byId.get(id)?.some((w) => w[5] === 0 && at >= Math.floor(w[2]) - 1 && at <= w[3] + 1) ?? false
  const steady = samples.filter(([at]) => !inSpans(at, chaos))
  return {
    all: distribution(samples.map(([at, received]) => received - at)),
    steady: distribution(steady.map(([at, received]) => received - at)),
    direct: distribution(steady.filter(([at, , id]) => direct(at, id)).map(([at, received]) => received - at)),
  }
}

export interface ProbeReport {
  /** Raw XADD → XREAD latency outside chaos spans, send time with sub-millisecond resolution. */
  readonly raw: Distribution
  /** The same samples with the send time truncated to whole ms, as tiercache's `at` is (comparable to `PropagationReport`). */
  readonly truncated: Distribution
}

export function analyseProbe(samples: readonly (readonly [sentAt: number, receivedAt: number])[], chaos: readonly ChaosSpan[]): ProbeReport {
  const steady = samples.filter(([sent]) => !inSpans(sent, chaos))
  return {
    raw: distribution(steady.map(([sent, received]) => received - sent)),
    truncated: distribution(steady.map(([sent, received]) => received - Math.floor(sent))),
  }
}
