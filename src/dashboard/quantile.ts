/** The q-quantile (0..1) of `values` (nearest rank), or null when there are none. Sorts `values` in place. */
export function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null
  values.sort((a, b) => a - b)
  return values[Math.min(values.length - 1, Math.floor(q * values.length))] as number
}
