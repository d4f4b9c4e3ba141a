import { InvalidOptionError } from '../core/errors.js'

/** Edit distance, for "did you mean" in unknown-option errors. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const row = [i]
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (x[i - 1] === y[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[y.length] as number
}

/**
 * Refuses keys an options object does not know: a misspelt option would otherwise fall back to its
 * default in silence (no purge token, no timeout). Suggests the closest known key.
 */
export function refuseUnknownKeys(input: object, known: readonly string[], path: string): void {
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue
    let best: string | undefined
    let bestDistance = Infinity
    for (const candidate of known) {
      const d = distance(key, candidate)
      if (d < bestDistance) {
        best = candidate
        bestDistance = d
      }
    }
    const hint = best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : ''
    throw new InvalidOptionError(path === '' ? key : `${path}.${key}`, `a known option${hint}`, key)
  }
}
