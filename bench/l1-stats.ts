/** Small statistics helpers for the L1 benchmarks. */

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** [min, max] of a non-empty list. */
export function spread(values: readonly number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)]
}
