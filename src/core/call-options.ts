import type { GetOrSetOptions } from './cache-types.js'
import { parseDuration } from './duration.js'
import { InvalidOptionError, UnknownOptionError } from './errors.js'
import { normalizeTags } from './key.js'
import type { CacheSettings } from './settings.js'

/**
 * The longest `ttl` or `grace` accepted: 10 years. Redis takes far more, but a larger value is a
 * unit mistake (seconds passed as milliseconds, `1e300`), and Redis refusing it on every write would
 * look like an outage of the shared tier.
 */
export const MAX_ENTRY_DURATION_MS = 10 * 365 * 86_400_000

/**
 * The longest duration a timer can wait: Node clamps a `setTimeout` above 2^31-1 ms (24.8 days) to
 * 1 ms, so a `timeout: 1e10` would fire at once. Every duration that arms a timer is held to this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** A non-null, non-array object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A `ttl` or `grace`: 0 to {@link MAX_ENTRY_DURATION_MS}. */
export function entryDuration(value: unknown, option: string): number {
  const ms = parseDuration(value, option)
  if (ms > MAX_ENTRY_DURATION_MS) throw new InvalidOptionError(option, 'a duration of at most 10 years', value)
  return ms
}

/** A duration that arms a timer: greater than zero (unless `allowZero`) and at most {@link MAX_TIMER_MS}. */
export function timerDuration(value: unknown, option: string, allowZero = false): number {
  const ms = parseDuration(value, option)
  if (ms <= 0 && !allowZero) throw new InvalidOptionError(option, 'a duration greater than zero', value)
  if (ms > MAX_TIMER_MS) throw new InvalidOptionError(option, 'a duration of at most 24 days (2^31-1 ms)', value)
  return ms
}

/**
 * Throws when `options` has a key not in `known`: a misspelt option (`ttlMs`, `maxSize`) would
 * otherwise be ignored and the default used without a word. Names the closest known key.
 */
export function assertKnownKeys(options: Record<string, unknown>, known: ReadonlySet<string>, prefix = ''): void {
  for (const key in options) {
    if (!known.has(key)) {
      const hint = closest(key, known)
      throw new UnknownOptionError(`${prefix}${key}`, hint === undefined ? undefined : `${prefix}${hint}`, [...known])
    }
  }
}

/** The known key nearest to `key` by edit distance, when it is near enough to be a likely typo. */
function closest(key: string, known: ReadonlySet<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1
  const lower = key.toLowerCase()
  for (const candidate of known) {
    const d = candidate.toLowerCase().startsWith(lower) || lower.startsWith(candidate.toLowerCase()) ? 1 : editDistance(lower, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] as number
}

const SET_KEYS: ReadonlySet<string> = new Set(['ttl', 'grace', 'tags', 'version'])
const SET_MANY_ITEM_KEYS: ReadonlySet<string> = new Set(['key', 'value', 'ttl', 'grace', 'tags'])
const GET_OR_SET_KEYS: ReadonlySet<string> = new Set(['ttl', 'grace', 'tags', 'timeout', 'softTimeout', 'refreshAhead'])
const WRITE_THROUGH_KEYS: ReadonlySet<string> = new Set(['ttl', 'grace', 'tags'])

/** Which call's options are being read: each accepts its own set of keys. */
export type CallKind = 'set' | 'setMany' | 'getOrSet' | 'writeThrough'
const KNOWN: Readonly<Record<CallKind, ReadonlySet<string>>> = {
  set: SET_KEYS, setMany: SET_MANY_ITEM_KEYS, getOrSet: GET_OR_SET_KEYS, writeThrough: WRITE_THROUGH_KEYS,
}

/** Per-call `ttl` and `grace` over the cache's defaults, validated on each call (most calls pass none). */
export function resolveEntryOptions(settings: CacheSettings, options: unknown, kind: CallKind): { ttl: number; grace: number } {
  if (options === undefined) return { ttl: settings.ttl, grace: settings.grace }
  if (!isRecord(options)) throw new InvalidOptionError('options', 'an object', options)
  assertKnownKeys(options, KNOWN[kind])
  return {
    ttl: options.ttl === undefined ? settings.ttl : entryDuration(options.ttl, 'ttl'),
    grace: options.grace === undefined ? settings.grace : entryDuration(options.grace, 'grace'),
  }
}

/** How a `getOrSet` call refreshes ahead: off, XFetch (`true`), or at a fraction of the TTL. */
export type RefreshAhead = false | true | number

/** A `getOrSet` call's options, resolved. */
export interface ResolvedCall {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly timeout: number | undefined
  readonly softTimeout: number | undefined
  readonly refreshAhead: RefreshAhead
}

/**
 * Validates a `getOrSet` call's options. Runs on every path, hit or miss, so a bad option is
 * refused the same way whether the key happens to be cached or not.
 */
export function resolveCall(settings: CacheSettings, key: string, options: GetOrSetOptions | undefined): ResolvedCall {
  if (options === undefined) {
    return { ttl: settings.ttl, grace: settings.grace, tags: NO_TAGS, timeout: settings.timeout, softTimeout: settings.softTimeout, refreshAhead: false }
  }
  const { ttl, grace } = resolveEntryOptions(settings, options, 'getOrSet')
  return {
    ttl,
    grace,
    tags: normalizeTags(options.tags, key),
    timeout: options.timeout === undefined ? settings.timeout : timerDuration(options.timeout, 'timeout'),
    softTimeout: options.softTimeout === undefined ? settings.softTimeout : timerDuration(options.softTimeout, 'softTimeout'),
    refreshAhead: refreshAhead(options.refreshAhead),
  }
}

/** Validates only `refreshAhead`: what an L1 hit of `getOrSet` needs, without building a call. */
export function refreshAhead(value: unknown): RefreshAhead {
  if (value === undefined || value === false) return false
  if (value === true) return true
  if (typeof value === 'number' && value > 0 && value < 1) return value
  throw new InvalidOptionError('refreshAhead', 'a boolean or a number between 0 and 1', value)
}

const NO_TAGS: readonly string[] = Object.freeze([])
