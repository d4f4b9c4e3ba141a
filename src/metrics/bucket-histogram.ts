import type { HistogramSample, Labels } from './family.js'

/**
 * A fixed-bucket histogram per label set, fed from diagnostics channel messages (loads, applied
 * invalidations: never the hit path). Label sets are few and known in advance, so the map stays small.
 */
export class BucketHistogram {
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>()

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
  }

  observe(labels: Labels, value: number): void {
    const id = Object.values(labels).join('\u0000')
    let s = this.#series.get(id)
    if (s === undefined) {
      s = { labels, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 }
      this.#series.set(id, s)
    }
    let i = 0
    while (i < this.#bounds.length && value > (this.#bounds[i] as number)) i++
    s.counts[i] = (s.counts[i] as number) + 1
    s.sum += value
    s.count++
  }

  read(): HistogramSample[] {
    return [...this.#series.values()].map((s) => ({ labels: s.labels, bounds: this.#bounds, counts: [...s.counts], sum: s.sum, count: s.count }))
  }
}

/** A counter per label set, fed from channel messages. */
export class LabelledCounter {
  readonly #series = new Map<string, { labels: Labels; value: number }>()

  /** Label sets that exist at 0 from the start (so a rate over them is defined before the first event). */
  constructor(initial: readonly Labels[] = []) {
    for (const labels of initial) this.add(labels, 0)
  }

  add(labels: Labels, n = 1): void {
    const id = Object.values(labels).join('\u0000')
    const s = this.#series.get(id)
    if (s === undefined) this.#series.set(id, { labels, value: n })
    else s.value += n
  }

  read(): { labels: Labels; value: number }[] {
    return [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value }))
  }
}
