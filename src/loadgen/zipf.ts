import type { Random } from './random.js'

/** Cumulative probabilities of ranks 1..n with weights 1/i^skew (skew 0: uniform). */
export function zipfCdf(n: number, skew: number): Float64Array {
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    total += 1 / Math.pow(i + 1, skew)
    cdf[i] = total
  }
  for (let i = 0; i < n; i++) cdf[i] = (cdf[i] as number) / total
  return cdf
}

/**
 * Draws keys 1..n, key k with probability proportional to 1/k^skew: key 1 is the most popular.
 * The table is built once (8 bytes per key); each draw is a binary search.
 */
export function zipfSampler(n: number, skew: number, random: Random): () => number {
  const cdf = zipfCdf(n, skew)
  return () => {
    const u = random()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((cdf[mid] as number) < u) lo = mid + 1
      else hi = mid
    }
    return lo + 1
  }
}
