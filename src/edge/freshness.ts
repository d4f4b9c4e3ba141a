import type { Directives } from './cache-control.js'
import {
  EMPTY_DIRECTIVES, MAX_DELTA_SECONDS, deltaSeconds, parseCdnCacheControl, parseDirectives, parseSurrogateControl, qualifiedFields, surrogateMaxAge,
} from './cache-control.js'
import type { HeaderList } from './header-list.js'
import { getAll, getJoined } from './header-list.js'
import { parseHttpDate } from './http-date.js'
import type { ResolvedBehavior } from './behavior-options.js'
import type { VaryNames } from './vary.js'
import { parseVary } from './vary.js'

/** Stored response flags. */
export const FLAG_NO_CACHE = 1
/** No stale serving at all: must-revalidate, proxy-revalidate, s-maxage or no-cache (RFC 9111 §4.2.4, §5.2.2). */
export const FLAG_MUST_REVALIDATE = 2
/** The freshness came from the origin (or the behavior's default TTL), not from nothing. */
export const FLAG_HAS_FRESHNESS = 4

/**
 * Status codes whose responses may get heuristic freshness (RFC 9110 §15.1: "heuristically
 * cacheable").
 */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])

/** Status codes this cache understands (for `must-understand`, RFC 9111 §5.2.2.3). */
export const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 428, 429, 431, 451,
  500, 501, 502, 503, 504, 505,
])

/** What the request contributes to the storage decision. */
export interface RequestFacts {
  /** The request carried `Authorization` (RFC 9111 §3.5). */
  readonly authorization: boolean
  /** A cookie was forwarded to the origin: treated like Authorization (the response may be personal). */
  readonly cookieForwarded: boolean
  /** Request `Cache-Control: no-store` (RFC 9111 §5.2.1.5). */
  readonly noStore: boolean
}

/** Times of the exchange, in the edge clock (RFC 9111 §4.2.3). */
export interface ExchangeTiming {
  readonly requestTime: number
  readonly responseTime: number
}

/** Why a response was not stored (a bounded set: used as a metric label). */
export type NotStoredReason =
  | 'status' | 'no-store' | 'private' | 'set-cookie' | 'vary-star' | 'authorization' | 'no-freshness' | 'must-understand'
  | 'request-no-store' | 'already-expired'

/** The verdict of {@link decideStorage}. */
export type StorageDecision =
  | { readonly store: false; readonly reason: NotStoredReason }
  | {
    readonly store: true
    /** Freshness lifetime, ms. */
    readonly lifetime: number
    /** Corrected initial age, ms (RFC 9111 §4.2.3). */
    readonly initialAge: number
    readonly staleWhileRevalidate: number
    readonly staleIfError: number
    readonly flags: number
    /** Header fields that must not be stored (qualified `private` / `no-cache`). */
    readonly dropFields: ReadonlySet<string>
    readonly vary: readonly string[] | undefined
  }

/** The directive set that governs this cache: targeted fields win over Cache-Control (RFC 9213 §2.1). */
export interface ControllingDirectives {
  readonly source: 'surrogate-control' | 'cdn-cache-control' | 'cache-control'
  readonly directives: Directives
  /** Surrogate-Control `max-age=N+M`: M, seconds. */
  readonly surrogateExtension: number
}

/**
 * Picks the controlling directives: `Surrogate-Control` meant for this surrogate (Edge Architecture),
 * then `CDN-Cache-Control` (RFC 9213), then `Cache-Control`.
 */
export function controllingDirectives(headers: HeaderList, surrogateId: string): ControllingDirectives {
  const sc = parseSurrogateControl(getJoined(headers, 'surrogate-control'), surrogateId)
  if (sc.has('max-age') || sc.has('no-store')) {
    return { source: 'surrogate-control', directives: sc, surrogateExtension: surrogateMaxAge(sc)?.[1] ?? 0 }
  }
  const cdn = parseCdnCacheControl(getJoined(headers, 'cdn-cache-control'))
  if (cdn !== undefined && cdn.size > 0) return { source: 'cdn-cache-control', directives: cdn, surrogateExtension: 0 }
  return { source: 'cache-control', directives: parseDirectives(getJoined(headers, 'cache-control')), surrogateExtension: 0 }
}

/**
 * The `Age` header's value in seconds, or undefined when there is none to use (RFC 9111 §5.1): a
 * list, on one line or several, counts by its first member; a value that is then not a
 * non-negative integer (`abc`, `-7200`, `7200.0`, `0;x=1`) is ignored, as if the field were absent.
 */
export function ageHeader(headers: HeaderList): number | undefined {
  const lines = getAll(headers, 'age')
  if (lines.length === 0) return undefined
  const first = ((lines[0] as string).split(',')[0] as string).trim()
  if (!/^\d+$/.test(first)) return undefined
  const n = Number(first)
  return n > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : n
}

/** `age_value` (RFC 9111 §4.2.3): the `Age` header's value, 0 when absent or ignored (see {@link ageHeader}). */
export function ageValue(headers: HeaderList): number {
  return ageHeader(headers) ?? 0
}

/** `corrected_initial_age` in ms (RFC 9111 §4.2.3); NaN when `Age` is invalid. */
export function correctedInitialAge(headers: HeaderList, timing: ExchangeTiming): number {
  const age = ageValue(headers)
  if (Number.isNaN(age)) return Number.NaN
  const date = parseHttpDate(getAll(headers, 'date')[0])
  const apparent = Number.isNaN(date) ? 0 : Math.max(0, timing.responseTime - date)
  const corrected = age * 1000 + (timing.responseTime - timing.requestTime)
  return Math.max(apparent, corrected)
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value
}

/**
 * Decides whether a response may be stored by this shared cache (RFC 9111 §3, §3.5, §4.2.1,
 * §4.2.2, RFC 9213, RFC 5861) and with which freshness. `headers` are the origin's fields with
 * hop-by-hop fields already removed.
 */
export function decideStorage(
  status: number, headers: HeaderList, timing: ExchangeTiming, behavior: ResolvedBehavior, request: RequestFacts,
  surrogateId: string, keepStale: number,
): StorageDecision {
  if (status < 200 || status === 206 || status === 304) return { store: false, reason: 'status' }
  if (request.noStore) return { store: false, reason: 'request-no-store' }
  const control = controllingDirectives(headers, surrogateId)
  const d = control.directives
  const cc = control.source === 'cache-control' ? d : EMPTY_DIRECTIVES
  // RFC 9111 §5.2.2.3: must-understand overrides no-store for understood status codes only.
  const mustUnderstand = cc.has('must-understand')
  if (mustUnderstand && !UNDERSTOOD_STATUSES.has(status)) return { store: false, reason: 'must-understand' }
  if (d.has('no-store') && !mustUnderstand) return { store: false, reason: 'no-store' }
  const dropFields = new Set<string>()
  if (d.has('private')) {
    const fields = qualifiedFields(d, 'private')
    if (fields === undefined) return { store: false, reason: 'private' }
    for (const f of fields) dropFields.add(f)
  }
  const noCacheFields = qualifiedFields(d, 'no-cache')
  if (noCacheFields !== undefined) for (const f of noCacheFields) dropFields.add(f)
  const noCache = d.has('no-cache') && noCacheFields === undefined
  if (!behavior.cacheSetCookie && getAll(headers, 'set-cookie').length > 0 && !dropFields.has('set-cookie')) {
    return { store: false, reason: 'set-cookie' }
  }
  const vary: VaryNames | undefined = parseVary(headers)
  if (vary === '*') return { store: false, reason: 'vary-star' }

  const sMaxAge = deltaSeconds(d, 's-maxage')
  const mustRevalidate = d.has('must-revalidate') || d.has('proxy-revalidate') || sMaxAge !== undefined || noCache
  // RFC 9111 §3.5: a shared cache stores a response to an authenticated request only when the
  // response says it may. A forwarded cookie gets the same treatment: that is what stops cache
  // deception (a personal page requested as /account.css) from landing in the shared cache.
  if ((request.authorization || request.cookieForwarded) && !(d.has('public') || sMaxAge !== undefined || d.has('must-revalidate'))) {
    return { store: false, reason: 'authorization' }
  }

  // Freshness lifetime (RFC 9111 §4.2.1): targeted max-age, s-maxage, max-age, Expires − Date.
  let explicit: number | undefined
  if (control.source === 'surrogate-control') {
    explicit = surrogateMaxAge(d)?.[0]
  } else {
    explicit = sMaxAge ?? deltaSeconds(d, 'max-age')
    if (explicit === undefined) {
      const expires = getAll(headers, 'expires')
      if (expires.length > 0) {
        const at = parseHttpDate(expires[0])
        if (Number.isNaN(at)) {
          explicit = 0 // RFC 9111 §5.3: an invalid Expires (such as "0") means already expired
        } else {
          const dateValue = parseHttpDate(getAll(headers, 'date')[0])
          const date = Number.isNaN(dateValue) ? timing.responseTime : dateValue
          explicit = Math.max(0, (at - date) / 1000)
        }
      }
    }
  }
  let lifetime: number
  let hasFreshness = true
  if (explicit !== undefined) {
    lifetime = Number.isNaN(explicit) ? 0 : clamp(explicit * 1000, behavior.minTtl, behavior.maxTtl)
  } else if (HEURISTIC_STATUSES.has(status) || d.has('public')) {
    const lastModified = parseHttpDate(getAll(headers, 'last-modified')[0])
    const dateValue = parseHttpDate(getAll(headers, 'date')[0])
    const date = Number.isNaN(dateValue) ? timing.responseTime : dateValue
    if (behavior.defaultTtl > 0) {
      lifetime = behavior.defaultTtl
    } else if (behavior.heuristic > 0 && !Number.isNaN(lastModified) && lastModified < date) {
      lifetime = Math.min(Math.floor(behavior.heuristic * (date - lastModified) / 1000) * 1000, behavior.maxTtl)
    } else {
      lifetime = 0
      hasFreshness = false
    }
  } else {
    lifetime = 0
    hasFreshness = false
  }

  const initialAge = correctedInitialAge(headers, timing)
  if (Number.isNaN(initialAge)) lifetime = 0
  const swrDirective = deltaSeconds(d, 'stale-while-revalidate')
  const sieDirective = deltaSeconds(d, 'stale-if-error')
  let staleWhileRevalidate = swrDirective !== undefined && !Number.isNaN(swrDirective)
    ? swrDirective * 1000
    : hasFreshness ? behavior.staleWhileRevalidate : 0
  let staleIfError = sieDirective !== undefined && !Number.isNaN(sieDirective)
    ? sieDirective * 1000
    : hasFreshness ? behavior.staleIfError : 0
  if (control.surrogateExtension > 0) staleIfError = Math.max(staleIfError, control.surrogateExtension * 1000)
  if (mustRevalidate) {
    staleWhileRevalidate = 0
    staleIfError = 0
  }
  const hasValidator = getAll(headers, 'etag').length > 0 || getAll(headers, 'last-modified').length > 0
  const retention = Math.max(staleWhileRevalidate, staleIfError, hasValidator ? keepStale : 0)
  if (lifetime <= 0 && retention === 0) return { store: false, reason: 'no-freshness' }
  const age = Number.isNaN(initialAge) ? 0 : initialAge
  if (lifetime - age + retention <= 0) return { store: false, reason: 'already-expired' }
  let flags = 0
  if (noCache) flags |= FLAG_NO_CACHE
  if (mustRevalidate) flags |= FLAG_MUST_REVALIDATE
  if (hasFreshness) flags |= FLAG_HAS_FRESHNESS
  return {
    store: true,
    lifetime: noCache ? 0 : lifetime,
    initialAge: age,
    staleWhileRevalidate,
    staleIfError,
    flags,
    dropFields,
    vary,
  }
}
