/**
 * The last `size` samples of a latency (a ring), for percentiles on demand: recording is one store,
 * the sort happens only when someone asks (`stats()`), never on the write or flush path.
 */
export class LagWindow {
  readonly #samples: Float64Array
  #next = 0
  #count = 0
  #max = 0

  constructor(size = 10_000) {
    this.#samples = new Float64Array(size)
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms
    this.#next = (this.#next + 1) % this.#samples.length
    if (this.#count < this.#samples.length) this.#count++
    if (ms > this.#max) this.#max = ms
  }

  /** p50 and p99 over the window, and the largest sample ever recorded; undefined before the first sample. */
  summary(): { p50: number; p99: number; max: number; samples: number } | undefined {
    if (this.#count === 0) return undefined
    const sorted = this.#samples.slice(0, this.#count).sort()
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
    return { p50: at(0.5), p99: at(0.99), max: this.#max, samples: this.#count }
  }
}
