/**
 * The error catalogue. Every error tiercache raises on purpose is a {@link TierCacheError} with a
 * stable `code`; callers branch on `code`, never on the message. `docs/errors.md` lists every code
 * and a test keeps the two in sync (fastify does the same for its error codes).
 */

/** Every stable error code, with the one-line meaning that `docs/errors.md` must also carry. */
export const ERROR_CODES = {
  E_INVALID_OPTION: 'an option passed to a constructor or a call is missing, of the wrong type or out of range',
  E_INVALID_KEY: 'a cache key is not a non-empty, well-formed string (no lone UTF-16 surrogate) of at most 1024 UTF-8 bytes',
  E_INVALID_TAG: 'a tag is not a non-empty, well-formed string (no lone UTF-16 surrogate) of at most 1024 UTF-8 bytes',
  E_VALUE_UNDEFINED: 'undefined cannot be cached; use null to cache the absence of a value',
  E_VALUE_NOT_SERIALIZABLE: 'the value cannot be serialized without losing data (BigInt, function, symbol, Map, Set, cycle)',
  E_VALUE_TOO_LARGE: 'the serialized value is larger than maxValueBytes',
  E_LOADER_TIMEOUT: 'the loader did not settle within its hard timeout and no stale value could be served',
  E_CACHE_CLOSED: 'the cache was closed',
  E_ENTRY_CORRUPT: 'a stored entry could not be decoded (wrong magic, truncated, or unreadable payload)',
  E_FORMAT_VERSION: 'a stored entry or message carries a format version this build does not understand',
  E_L2_TIMEOUT: 'an L2 operation did not answer within l2.timeout',
  E_L2_UNAVAILABLE: 'the L2 connection is refused, lost, or connected without answering; the call falls back (logged and counted, never raised to callers)',
  E_LOCK_TIMEOUT: 'a distributed lock could not be acquired within the wait bound',
  E_LOCK_LOST: 'a distributed lock was no longer held by this owner when it was released or extended',
  E_LOCK_UNAVAILABLE: 'distributed locks need an L2 (Redis) store',
  E_ORIGIN_UNAVAILABLE: 'the edge got no response from the origin (timeout, connection failure or open breaker) and had nothing stale it could serve',
  E_PURGE_UNAUTHORIZED: 'a purge request did not carry the valid bearer token and was refused',
  E_PURGE_INVALID: 'a purge request is not a JSON object naming tags, urls or prefixes (strings) and an optional boolean soft',
  E_PURGE_FAILED: 'the purge endpoint could not be reached or did not accept the purge',
  E_PURGE_TOO_LARGE: 'a purge request body is larger than the edge accepts (purge.maxBodyBytes)',
  E_PURGE_RATE_LIMITED: 'the edge refused a purge request because purges arrived faster than purge.ratePerSecond allows',
  E_EDGE_CONFIG: 'the edge configuration file cannot be read or is not a JSON object',
  E_DEPENDENCY_MISSING: 'an optional package that the requested feature needs (ioredis, pg, @electric-sql/pglite) is not installed',
  E_BACKPRESSURE: 'a write-behind queue holds maxPending writes: the write was refused (whenFull: throw) or waited longer than maxWait',
  E_WRITE_NOT_DURABLE: 'a write-behind write could not be made durable in its queue (Redis refused, unreachable or too slow); when the context says outcome: unknown it may still have been queued',
  E_WRITER_CLOSED: 'the write-behind writer (or the cache that opened it) was closed',
  E_METRICS_CONFLICT: 'a metrics registry already collects a cache with this namespace (or this edge), or holds another metric with a tiercache metric name',
  E_CDC_CONFIG: 'a change-capture mapping is malformed: an unknown key, a bad table or column name, a key or tag template that names no column or an unknown one',
  E_CDC_SCHEMA: 'a change-capture mapping does not match the database: a table or column that does not exist, a key template missing a primary-key column, the outbox not installed (run tiercache cdc --install), or for the logical mode a server without wal_level=logical',
  E_CDN_CONFIG: 'a cdn-purger configuration is malformed: an unknown key, a missing or wrongly typed field, a bad template, an unknown provider; the message names the field',
  E_CDN_UNSUPPORTED: 'a CDN purge asks for something the provider cannot do: a kind it does not purge by (tags on nginx or CloudFront) or more items than one request takes',
  E_CDN_PURGE_FAILED: 'a CDN did not accept a purge (unreachable, refused credentials, rate limited, an error answer); retryable tells whether sending it again may succeed',
} as const

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES

/** Context attached to an error: the key, the option, the tier; never the value. */
export interface ErrorContext {
  readonly key?: string
  readonly option?: string
  readonly tag?: string
  readonly tier?: string
  readonly [extra: string]: unknown
}

/** Base class of every error tiercache raises on purpose. */
export class TierCacheError extends Error {
  override readonly name: string = 'TierCacheError'
  readonly code: ErrorCode
  readonly context: ErrorContext

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.context = context
  }
}

/** An option failed validation. The message names the option, what was expected and what arrived. */
export class InvalidOptionError extends TierCacheError {
  override readonly name = 'InvalidOptionError'
  constructor(option: string, expected: string, received: unknown) {
    super('E_INVALID_OPTION', `expected ${option} to be ${expected}, got ${describe(received)}`, { option })
  }
}

/**
 * An options object has a key tiercache does not know: almost always a typo (`ttlMs`, `maxSize`,
 * `orign`) that would otherwise be ignored silently, leaving the default in force.
 */
export class UnknownOptionError extends TierCacheError {
  override readonly name = 'UnknownOptionError'
  constructor(option: string, suggestion: string | undefined, known: readonly string[]) {
    super('E_INVALID_OPTION', `unknown option ${option}${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}; known options here: ${known.join(', ')}`,
      suggestion === undefined ? { option } : { option, suggestion })
  }
}

/** A key failed validation. */
export class InvalidKeyError extends TierCacheError {
  override readonly name = 'InvalidKeyError'
  constructor(key: unknown, reason: string) {
    super('E_INVALID_KEY', `invalid cache key ${describe(key)}: ${reason}`, { key: typeof key === 'string' ? key : String(key) })
  }
}

/** A tag failed validation. */
export class InvalidTagError extends TierCacheError {
  override readonly name = 'InvalidTagError'
  constructor(tag: unknown, reason: string, key?: string) {
    super('E_INVALID_TAG', `invalid tag ${describe(tag)}${key === undefined ? '' : ` for key "${key}"`}: ${reason}`,
      key === undefined ? { tag: String(tag) } : { tag: String(tag), key })
  }
}

/** A value could not be cached: undefined, not serializable, or too large. Nothing was written. */
export class InvalidValueError extends TierCacheError {
  override readonly name = 'InvalidValueError'
  constructor(code: 'E_VALUE_UNDEFINED' | 'E_VALUE_NOT_SERIALIZABLE' | 'E_VALUE_TOO_LARGE', key: string, message: string,
    context: Omit<ErrorContext, 'key'> = {}, cause?: unknown) {
    super(code, `cannot cache key "${key}": ${message}`, { ...context, key }, cause === undefined ? undefined : { cause })
  }
}

/** The loader exceeded its hard timeout and no stale value was available. */
export class LoaderTimeoutError extends TierCacheError {
  override readonly name = 'LoaderTimeoutError'
  constructor(key: string, timeoutMs: number) {
    super('E_LOADER_TIMEOUT', `loader for key "${key}" did not settle within ${timeoutMs}ms`, { key, timeoutMs })
  }
}

/** An operation was attempted on a closed cache. */
export class CacheClosedError extends TierCacheError {
  override readonly name = 'CacheClosedError'
  constructor(namespace: string) {
    super('E_CACHE_CLOSED', `cache "${namespace}" is closed`, { namespace })
  }
}

/** A persisted entry or wire message could not be decoded. */
export class FormatError extends TierCacheError {
  override readonly name = 'FormatError'
  constructor(code: 'E_ENTRY_CORRUPT' | 'E_FORMAT_VERSION', message: string, context: ErrorContext = {}, cause?: unknown) {
    super(code, message, context, cause === undefined ? undefined : { cause })
  }
}

/** An L2 call did not answer in time, or L2 is not connected (seen in logs and stats; it never reaches a caller of the cache API). */
export class L2Error extends TierCacheError {
  override readonly name = 'L2Error'
  constructor(code: 'E_L2_TIMEOUT' | 'E_L2_UNAVAILABLE', message: string, context: ErrorContext = {}, cause?: unknown) {
    super(code, message, context, cause === undefined ? undefined : { cause })
  }
}

/** A distributed lock could not be acquired, was lost, or needs Redis. */
export class LockError extends TierCacheError {
  override readonly name = 'LockError'
  constructor(code: 'E_LOCK_TIMEOUT' | 'E_LOCK_LOST' | 'E_LOCK_UNAVAILABLE', message: string, context: ErrorContext = {}) {
    super(code, message, context)
  }
}

/**
 * A feature was asked for whose package is an optional peer dependency that is not installed
 * (ioredis for Redis, pg or @electric-sql/pglite for the database). The message says what to run.
 */
export class DependencyMissingError extends TierCacheError {
  override readonly name = 'DependencyMissingError'
  constructor(pkg: string, feature: string, cause?: unknown) {
    super('E_DEPENDENCY_MISSING', `${feature} needs the ${pkg} package, which is not installed: run npm install ${pkg}`,
      { package: pkg }, cause === undefined ? undefined : { cause })
  }
}

/**
 * A write-behind write was not acknowledged: the queue is full (`E_BACKPRESSURE`), the write could
 * not be made durable (`E_WRITE_NOT_DURABLE`), or the writer is closed (`E_WRITER_CLOSED`). The
 * cache was not changed by a write that rejects, except that with `outcome: 'unknown'` in the
 * context the write may have reached the queue (and will then be flushed like any other).
 */
export class WriteBehindError extends TierCacheError {
  override readonly name = 'WriteBehindError'
  constructor(code: 'E_BACKPRESSURE' | 'E_WRITE_NOT_DURABLE' | 'E_WRITER_CLOSED', message: string, context: ErrorContext = {}, cause?: unknown) {
    super(code, message, context, cause === undefined ? undefined : { cause })
  }
}

/** True when `error` is a tiercache error, optionally with the given code. */
export function isTierCacheError(error: unknown, code?: ErrorCode): error is TierCacheError {
  return error instanceof TierCacheError && (code === undefined || error.code === code)
}

/** A short, safe rendering of a received value for error messages (never the whole value). */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'null prototype'})`
  return typeof value
}
