import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { TOKEN, bool, duration } from './option-values.js'
import { refuseUnknownKeys } from './unknown-keys.js'

/**
 * One cache behavior: CloudFront's model (ordered path patterns; the first match wins; `*` is the
 * default). The headers, query strings and cookies named here are the cache key AND the only ones
 * forwarded to the origin, so nothing the origin sees is missing from the key (no unkeyed-input
 * cache poisoning).
 */
export interface BehaviorOptions {
  /** CloudFront syntax: `*` matches any run of characters (including `/`), `?` exactly one. Case-sensitive. `*` alone is the default behavior. */
  pathPattern: string
  /** Lower bound on an explicit freshness lifetime. Default 0. */
  minTtl?: Duration
  /**
   * Freshness given to responses without explicit freshness information (no `s-maxage`, `max-age`,
   * `Expires`), for heuristically cacheable statuses (RFC 9111 §4.2.2). Default 0: not cached.
   */
  defaultTtl?: Duration
  /** Upper bound on any freshness lifetime. Default 365 days. */
  maxTtl?: Duration
  /**
   * Heuristic freshness as a fraction of (Date − Last-Modified) when `defaultTtl` is 0 (RFC 9111
   * §4.2.2 suggests 0.1). Default 0: off.
   */
  heuristic?: number
  /** Query strings in the key and forwarded: `'none'` (stripped), `'all'`, or a list of names. Default `'none'`. */
  queryStrings?: 'none' | 'all' | readonly string[]
  /** Request headers in the key and forwarded (case-insensitive names). Default none. */
  headers?: readonly string[]
  /** Cookies in the key and forwarded: `'none'`, `'all'`, or a list of names. Default `'none'`. */
  cookies?: 'none' | 'all' | readonly string[]
  /**
   * Request headers forwarded WITHOUT being part of the key. Only for headers the origin's response
   * never depends on (trace ids): anything else here is a cache-poisoning hole. Default none.
   */
  forwardHeaders?: readonly string[]
  /** Methods accepted (others get 403), or `'all'`. Default `'all'`. */
  allowedMethods?: 'all' | readonly string[]
  /** Methods whose responses are cached. Default `['GET', 'HEAD']`. */
  cachedMethods?: readonly ('GET' | 'HEAD' | 'OPTIONS')[]
  /** Compress eligible responses (gzip, br) for clients that accept it. Default false. */
  compress?: boolean
  /** Store responses carrying `Set-Cookie` (and replay the cookie to everyone). Default false. */
  cacheSetCookie?: boolean
  /**
   * How long past freshness a stored response may be served when the origin fails (RFC 9111 §4.2.4
   * "out-of-band contract"; a response's own `stale-if-error` overrides it). Default 1 day.
   */
  staleIfError?: Duration
  /** Default stale-while-revalidate window when the response names none. Default 0. */
  staleWhileRevalidate?: Duration
}

const ALL_CLOUDFRONT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'POST', 'PATCH', 'DELETE'] as const

/**
 * A CloudFront-style distribution: a default behavior (TTL 0 / 1 day / 1 year, no query
 * strings, headers or cookies forwarded, compression on, every method) and `/api/*` (GET and HEAD
 * only, all query strings, keyed on Authorization, Accept and Accept-Language, TTL 0 / 0 / 300 s).
 * CloudFront's default behavior allows 7 methods; this edge forwards every method.
 */
export const DEFAULT_BEHAVIORS: readonly BehaviorOptions[] = Object.freeze([
  Object.freeze({
    pathPattern: '/api/*',
    allowedMethods: Object.freeze(['GET', 'HEAD']),
    cachedMethods: Object.freeze(['GET', 'HEAD'] as const),
    queryStrings: 'all',
    cookies: 'none',
    headers: Object.freeze(['Authorization', 'Accept', 'Accept-Language']),
    minTtl: 0,
    defaultTtl: 0,
    maxTtl: '300s',
  } satisfies BehaviorOptions),
  Object.freeze({
    pathPattern: '*',
    allowedMethods: 'all',
    cachedMethods: Object.freeze(['GET', 'HEAD'] as const),
    queryStrings: 'none',
    cookies: 'none',
    headers: Object.freeze([] as string[]),
    minTtl: 0,
    defaultTtl: '1d',
    maxTtl: '365d',
    compress: true,
  } satisfies BehaviorOptions),
])

/** The CloudFront methods, for reference in docs and tests. */
export const CLOUDFRONT_METHODS: readonly string[] = ALL_CLOUDFRONT_METHODS

/** A behavior after validation: times in ms, names lowercased, sets built. */
export interface ResolvedBehavior {
  readonly pathPattern: string
  readonly minTtl: number
  readonly defaultTtl: number
  readonly maxTtl: number
  readonly heuristic: number
  readonly queryStrings: 'none' | 'all' | readonly string[]
  readonly headers: readonly string[]
  readonly cookies: 'none' | 'all' | readonly string[]
  readonly forwardHeaders: readonly string[]
  readonly allowedMethods: 'all' | ReadonlySet<string>
  readonly cachedMethods: ReadonlySet<string>
  readonly compress: boolean
  readonly cacheSetCookie: boolean
  readonly staleIfError: number
  readonly staleWhileRevalidate: number
}

const METHOD = TOKEN
// Headers that can never be keyed or forwarded as application headers: connection-level, or
// handled by the edge itself.
const RESERVED_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer',
  'proxy-authorization', 'content-length', 'cookie', 'x-tiercache-hop', 'x-tiercache-hop-auth', 'via',
])

const BEHAVIOR_KEYS: readonly string[] = ['pathPattern', 'minTtl', 'defaultTtl', 'maxTtl', 'heuristic', 'queryStrings', 'headers', 'cookies',
  'forwardHeaders', 'allowedMethods', 'cachedMethods', 'compress', 'cacheSetCookie', 'staleIfError', 'staleWhileRevalidate']

/** Defaults of a behavior's bounds (each documented on its field). */
export const BEHAVIOR_DEFAULTS = {
  maxTtlMs: 365 * 86_400_000,
  staleIfErrorMs: 86_400_000,
} as const

function nameList(value: unknown, option: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidOptionError(option, 'an array of header names', value)
  const out: string[] = []
  for (const [i, item] of (value as unknown[]).entries()) {
    if (typeof item !== 'string' || !TOKEN.test(item)) throw new InvalidOptionError(`${option}[${i}]`, 'a header name', item)
    const name = item.toLowerCase()
    if (RESERVED_HEADERS.has(name)) throw new InvalidOptionError(`${option}[${i}]`, 'a header the edge may forward (not hop-by-hop, Cookie or Content-Length)', item)
    if (!out.includes(name)) out.push(name)
  }
  return out.sort()
}

function selection(value: unknown, option: string, what: string): 'none' | 'all' | readonly string[] {
  if (value === undefined || value === 'none') return 'none'
  if (value === 'all') return 'all'
  if (Array.isArray(value) && (value as unknown[]).every((v) => typeof v === 'string' && v !== '')) {
    return [...new Set(value as string[])].sort()
  }
  throw new InvalidOptionError(option, `'none', 'all' or an array of ${what} names`, value)
}

/** Validates one behavior. */
export function resolveBehavior(input: unknown, option: string): ResolvedBehavior {
  if (typeof input !== 'object' || input === null) throw new InvalidOptionError(option, 'a behavior object', input)
  const b = input as Record<string, unknown>
  refuseUnknownKeys(b, BEHAVIOR_KEYS, option)
  const pattern = b.pathPattern
  if (typeof pattern !== 'string' || (pattern !== '*' && !pattern.startsWith('/')) || pattern.length > 255) {
    throw new InvalidOptionError(`${option}.pathPattern`, "'*' or a path pattern starting with '/' (at most 255 characters)", pattern)
  }
  const minTtl = duration(b.minTtl, `${option}.minTtl`, 0)
  const defaultTtl = duration(b.defaultTtl, `${option}.defaultTtl`, 0)
  const maxTtl = duration(b.maxTtl, `${option}.maxTtl`, BEHAVIOR_DEFAULTS.maxTtlMs)
  if (!(minTtl <= defaultTtl || defaultTtl === 0) || minTtl > maxTtl || defaultTtl > maxTtl) {
    throw new InvalidOptionError(`${option}`, 'minTtl <= defaultTtl <= maxTtl', `${minTtl}/${defaultTtl}/${maxTtl} ms`)
  }
  const heuristic = b.heuristic ?? 0
  if (typeof heuristic !== 'number' || !(heuristic >= 0 && heuristic <= 1)) {
    throw new InvalidOptionError(`${option}.heuristic`, 'a fraction between 0 and 1', heuristic)
  }
  let allowedMethods: 'all' | ReadonlySet<string> = 'all'
  if (b.allowedMethods !== undefined && b.allowedMethods !== 'all') {
    if (!Array.isArray(b.allowedMethods) || !(b.allowedMethods as unknown[]).every((m) => typeof m === 'string' && METHOD.test(m))) {
      throw new InvalidOptionError(`${option}.allowedMethods`, "'all' or an array of method names", b.allowedMethods)
    }
    allowedMethods = new Set((b.allowedMethods as string[]).map((m) => m.toUpperCase()))
  }
  let cachedMethods: ReadonlySet<string> = new Set(['GET', 'HEAD'])
  if (b.cachedMethods !== undefined) {
    if (!Array.isArray(b.cachedMethods) || !(b.cachedMethods as unknown[]).every((m) => m === 'GET' || m === 'HEAD' || m === 'OPTIONS')) {
      throw new InvalidOptionError(`${option}.cachedMethods`, "an array of 'GET', 'HEAD', 'OPTIONS'", b.cachedMethods)
    }
    cachedMethods = new Set(b.cachedMethods as string[])
  }
  if (allowedMethods !== 'all') {
    for (const m of cachedMethods) {
      if (!allowedMethods.has(m)) throw new InvalidOptionError(`${option}.cachedMethods`, `a subset of allowedMethods (${m} is not allowed)`, b.cachedMethods)
    }
  }
  const headers = nameList(b.headers, `${option}.headers`)
  const forwardHeaders = nameList(b.forwardHeaders, `${option}.forwardHeaders`).filter((h) => !headers.includes(h))
  return Object.freeze({
    pathPattern: pattern,
    minTtl,
    defaultTtl,
    maxTtl,
    heuristic,
    queryStrings: selection(b.queryStrings, `${option}.queryStrings`, 'query string'),
    headers,
    cookies: selection(b.cookies, `${option}.cookies`, 'cookie'),
    forwardHeaders,
    allowedMethods,
    cachedMethods,
    compress: bool(b.compress, `${option}.compress`, false),
    cacheSetCookie: bool(b.cacheSetCookie, `${option}.cacheSetCookie`, false),
    staleIfError: duration(b.staleIfError, `${option}.staleIfError`, BEHAVIOR_DEFAULTS.staleIfErrorMs),
    staleWhileRevalidate: duration(b.staleWhileRevalidate, `${option}.staleWhileRevalidate`, 0),
  })
}
