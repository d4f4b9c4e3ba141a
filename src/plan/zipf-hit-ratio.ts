/**
 * The hit ratio of an ideal LFU cache on a Zipf key space: it holds the `cached` most popular of
 * `items` keys, key k drawn with weight 1/k^s, so its hit ratio is H(cached, s) / H(items, s) with
 * H the generalized harmonic number. An upper bound for any real cache: popularity never drifts,
 * nothing expires, nothing is invalidated, and the cache knows the ranking from the first request.
 */
export function idealLfuHitRatio(cached: number, items: number, s: number): number {
  if (cached >= items) return 1
  if (cached <= 0) return 0
  return harmonic(cached, s) / harmonic(items, s)
}

/** Terms summed one by one; past this, the tail is integrated (Euler–Maclaurin, error far below 1e-9 relative). */
const EXACT_TERMS = 1_000_000

/** H(n, s) = sum of 1/k^s for k = 1..n. */
export function harmonic(n: number, s: number): number {
  const exact = Math.min(n, EXACT_TERMS)
  let sum = 0
  // Smallest terms first, for the float sum's sake.
  for (let k = exact; k >= 1; k--) sum += Math.pow(k, -s)
  if (n <= EXACT_TERMS) return sum
  return sum + tail(EXACT_TERMS + 1, n, s)
}

/** sum_{k=a}^{b} k^-s ≈ ∫_a^b x^-s dx + (a^-s + b^-s)/2 + s/12 (a^(-s-1) - b^(-s-1)). */
function tail(a: number, b: number, s: number): number {
  const integral = s === 1 ? Math.log(b / a) : (Math.pow(b, 1 - s) - Math.pow(a, 1 - s)) / (1 - s)
  return integral + (Math.pow(a, -s) + Math.pow(b, -s)) / 2 + (s / 12) * (Math.pow(a, -s - 1) - Math.pow(b, -s - 1))
}
