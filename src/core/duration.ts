import { InvalidOptionError } from './errors.js'

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}${DurationUnit}`
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

const UNIT_MS: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/

// Per-call options repeat a handful of strings ('5m', '30s') on every call, hit or miss: parsing
// each once keeps validating them on the hit path cheap. Bounded: cleared when full.
const parsed = new Map<string, number>()

/**
 * Parses a duration into whole milliseconds. `option` names the option in the error message.
 * Zero is allowed (a zero `ttl` means "stale immediately"); negative, non-finite and unitless
 * strings are rejected because each of them has been a real misconfiguration somewhere.
 */
export function parseDuration(value: unknown, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value)
    throw new InvalidOptionError(option, "a duration (milliseconds >= 0, or a string like '250ms' '30s' '5m' '1h' '1d')", value)
  }
  if (typeof value === 'string') {
    const known = parsed.get(value)
    if (known !== undefined) return known
    const match = PATTERN.exec(value.trim())
    if (match !== null) {
      const ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
      if (Number.isFinite(ms)) {
        if (parsed.size >= 256) parsed.clear()
        parsed.set(value, Math.round(ms))
        return Math.round(ms)
      }
    }
  }
  throw new InvalidOptionError(option, "a duration (milliseconds >= 0, or a string like '250ms' '30s' '5m' '1h' '1d')", value)
}
