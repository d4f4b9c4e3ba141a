/**
 * A latency histogram with logarithmic buckets: constant memory whatever the number of samples,
 * mergeable, and a stated error bound.
 *
 * Values are microseconds. Bucket i holds [B^i, B^(i+1)) with B = 1 + 2ε (ε = {@link RELATIVE_ERROR});
 * a quantile is reported as the geometric middle of its bucket, so it is within ε (0.5%) of the value
 * actually recorded at that rank (B^0.5 − 1 = 0.4988%); values below 1 µs share the first bucket.
 * Quantiles are clamped to the minimum and maximum, which are kept exactly. Buckets cover 1 µs to about an hour: larger values land in the last
 * bucket (the exact maximum still shows them).
 */
export const RELATIVE_ERROR = 0.005
const BASE = 1 + 2 * RELATIVE_ERROR
const LOG_BASE = Math.log(BASE)
/** One hour in µs, the top of the range. */
const TOP_US = 3_600_000_000
const BUCKETS = Math.ceil(Math.log(TOP_US) / LOG_BASE) + 1

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS)
  #count = 0
  #sum = 0
  #min = Infinity
  #max = 0

  /** Records one value in microseconds (negative values count as 0). */
  record(us: number): void {
    const v = us > 0 ? us : 0
    this.#counts[bucketOf(v)]! += 1
    this.#count++
    this.#sum += v
    if (v < this.#min) this.#min = v
    if (v > this.#max) this.#max = v
  }

  get count(): number { return this.#count }
  get max(): number { return this.#count === 0 ? 0 : this.#max }
  get min(): number { return this.#count === 0 ? 0 : this.#min }
  get mean(): number { return this.#count === 0 ? 0 : this.#sum / this.#count }

  /**
   * The q-quantile (0..1) in µs, nearest rank: the smallest value with at least q of the samples
   * at or below it, to within the error bound; clamped to the exact min and max. 0 when empty.
   */
  quantile(q: number): number {
    if (this.#count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.#count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!
      if (seen >= rank) return Math.min(this.#max, Math.max(this.#min, middleOf(i)))
    }
    return this.#max
  }

  /** Adds another histogram's samples to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!
    this.#count += other.#count
    this.#sum += other.#sum
    if (other.#count > 0) {
      this.#min = Math.min(this.#min, other.#min)
      this.#max = Math.max(this.#max, other.#max)
    }
  }
}

function bucketOf(us: number): number {
  if (us < 1) return 0
  return Math.min(BUCKETS - 1, Math.floor(Math.log(us) / LOG_BASE))
}

/** The geometric middle of bucket i: within ε of every value in [B^i, B^(i+1)). */
function middleOf(i: number): number {
  return Math.pow(BASE, i + 0.5)
}
