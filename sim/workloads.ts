import { SeededRandom } from './random.js'

/** A generated request stream: dense key ids, like the trace files. */
export interface Workload {
  readonly name: string
  readonly trace: Int32Array
  readonly distinct: number
  /**
   * For independent requests from a fixed distribution: the best possible hit ratio of a cache of
   * `capacity` entries, the probability mass of the `capacity` most popular keys ("top-C").
   */
  readonly bound?: (capacity: number) => number
  /** Cache sizes (fractions of distinct keys) this workload is meant for, when not the default. */
  readonly sizes?: readonly number[]
  /**
   * What cache sizes are fractions of, when not `distinct`: the Zipf key space for the Zipf
   * variants, so "1%" is the same 10,000 entries whatever the scans or the drift add.
   */
  readonly sizeBase?: number
  /** Sized traces only: each key's size in bytes (see `TraceFile`). */
  readonly objectSizes?: Uint32Array
}

/**
 * Zipf's law over `n` keys: key of rank r (0-based) is drawn with probability ∝ 1/(r+1)^α.
 * Sampling inverts the cumulative distribution with a binary search over a precomputed table.
 */
export class Zipf {
  readonly #cdf: Float64Array

  constructor(readonly n: number, readonly alpha: number) {
    const cdf = new Float64Array(n)
    let sum = 0
    for (let r = 0; r < n; r++) {
      sum += 1 / (r + 1) ** alpha
      cdf[r] = sum
    }
    for (let r = 0; r < n; r++) cdf[r] = (cdf[r] as number) / sum
    this.#cdf = cdf
  }

  /** The rank for a uniform draw `u` in [0, 1). */
  rank(u: number): number {
    const cdf = this.#cdf
    let lo = 0
    let hi = cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Probability mass of the `c` most popular keys: the top-C hit-ratio bound. */
  topMass(c: number): number {
    if (c <= 0) return 0
    return this.#cdf[Math.min(c, this.n) - 1] as number
  }
}

/** Renumbers keys densely in order of first appearance (what the trace files do). */
export function densify(raw: Int32Array): { trace: Int32Array; distinct: number } {
  const ids = new Map<number, number>()
  const trace = new Int32Array(raw.length)
  for (let i = 0; i < raw.length; i++) {
    const key = raw[i] as number
    let id = ids.get(key)
    if (id === undefined) {
      id = ids.size
      ids.set(key, id)
    }
    trace[i] = id
  }
  return { trace, distinct: ids.size }
}

/** Independent Zipf requests over `keys` keys; key id = popularity rank. */
export function zipfWorkload(alpha: number, keys: number, requests: number, seed: number): Workload {
  const zipf = new Zipf(keys, alpha)
  const random = new SeededRandom(seed)
  const trace = new Int32Array(requests)
  for (let i = 0; i < requests; i++) trace[i] = zipf.rank(random.next())
  // Sizes are fractions of the whole key space (not only the keys drawn), as the bound assumes.
  return { name: `zipf-${alpha.toFixed(1)}`, trace, distinct: keys, bound: (c) => zipf.topMass(c) }
}

/**
 * Zipf 0.9 interrupted by bursts of one-hit wonders (a batch job or crawler reading each of many
 * new keys once): every `period` requests, a burst of `burst` never-seen keys.
 */
export function zipfScanWorkload(keys: number, requests: number, seed: number, period = 50_000, burst = 20_000): Workload {
  const zipf = new Zipf(keys, 0.9)
  const random = new SeededRandom(seed)
  const raw = new Int32Array(requests)
  let scanKey = keys
  for (let i = 0; i < requests;) {
    for (let j = 0; j < period && i < requests; j++) raw[i++] = zipf.rank(random.next())
    for (let j = 0; j < burst && i < requests; j++) raw[i++] = scanKey++
  }
  const { trace, distinct } = densify(raw)
  return { name: 'zipf-0.9+scans', trace, distinct, sizeBase: keys }
}

/**
 * A loop over `keys` keys, sized so the default cache (90% of the keys) is slightly smaller than
 * the loop: LRU and FIFO-family policies get nothing, a frequency-aware policy can keep a fixed
 * subset and get about 90%.
 */
export function loopWorkload(keys: number, requests: number): Workload {
  const trace = new Int32Array(requests)
  for (let i = 0; i < requests; i++) trace[i] = i % keys
  return { name: 'loop', trace, distinct: keys, sizes: [0.9] }
}

/**
 * Zipf 0.9 whose popularity drifts: new keys keep arriving at the top and every key slides down
 * the ranking (news, feeds). Every `every` requests the ranking shifts by one key, so the hottest
 * key of one moment is rank 1000 some `1000 * every` requests later.
 */
export function zipfDriftWorkload(keys: number, requests: number, seed: number, every = 20): Workload {
  const zipf = new Zipf(keys, 0.9)
  const random = new SeededRandom(seed)
  const raw = new Int32Array(requests)
  for (let i = 0; i < requests; i++) {
    const shift = Math.floor(i / every)
    raw[i] = zipf.rank(random.next()) - shift
  }
  const { trace, distinct } = densify(raw)
  return { name: 'zipf-0.9-drift', trace, distinct, sizeBase: keys }
}
