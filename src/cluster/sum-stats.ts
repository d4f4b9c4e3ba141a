/**
 * Combines the stats snapshots of several workers into one for the whole deployment. The rules
 * are by kind of value, the same for edge and cache stats:
 * - numbers are summed: counters (requests, hits...) and gauges of per-worker resources
 *   (entries, bytes, maxBytes: each worker has its own memory, so the sum is what the machine
 *   holds); a histogram's buckets, arrays of numbers, are summed element by element;
 * - breaker states take the worst (`open` over `half-open` over `closed`);
 * - booleans are true when any worker's is (a fenced cache, a disconnected bus);
 * - any other string is kept when every worker agrees, else the values are joined with commas.
 * Derived figures (ratios, quantiles) are not in the snapshots; compute them from the sums.
 */
export function sumStats<T>(snapshots: readonly T[]): T | undefined {
  if (snapshots.length === 0) return undefined
  return combine(snapshots) as T
}

const BREAKER_ORDER = ['closed', 'half-open', 'open']

function combine(values: readonly unknown[]): unknown {
  const present = values.filter((v) => v !== undefined && v !== null)
  if (present.length === 0) return values[0]
  const first = present[0]
  if (typeof first === 'number') return present.reduce<number>((sum, v) => sum + (typeof v === 'number' ? v : 0), 0)
  if (typeof first === 'boolean') return present.some((v) => v === true)
  if (typeof first === 'string') {
    const distinct = [...new Set(present.map(String))]
    if (distinct.length === 1) return first
    if (distinct.every((v) => BREAKER_ORDER.includes(v))) return distinct.sort((a, b) => BREAKER_ORDER.indexOf(b) - BREAKER_ORDER.indexOf(a))[0]
    return distinct.join(',')
  }
  if (Array.isArray(first)) {
    const length = Math.max(...present.map((v) => (Array.isArray(v) ? v.length : 0)))
    return Array.from({ length }, (_, i) => combine(present.map((v) => (Array.isArray(v) ? (v as unknown[])[i] : undefined))))
  }
  if (typeof first === 'object') {
    const keys = new Set<string>()
    for (const v of present) for (const k of Object.keys(v)) keys.add(k)
    const out: Record<string, unknown> = {}
    for (const k of keys) out[k] = combine(present.map((v) => (v as Record<string, unknown>)[k]))
    return out
  }
  return first
}
