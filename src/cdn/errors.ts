import { TierCacheError } from '../core/errors.js'
import type { ErrorContext } from '../core/errors.js'
import type { CdnPurger, PurgeRequest } from './purger.js'

/**
 * A purge the CDN did not accept. `retryable` tells the runner whether the same request may
 * succeed later (it retries with back-off, then dead-letters) or never will (dead-lettered at once).
 */
export class CdnPurgeError extends TierCacheError {
  override readonly name = 'CdnPurgeError'
  readonly retryable: boolean
  /** How long the provider asked to wait before the next request (Retry-After), when it said. */
  readonly retryAfterMs: number | undefined

  constructor(provider: string, message: string, options: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown }) {
    super('E_CDN_PURGE_FAILED', `${provider}: ${message}`, { provider, ...(options.status === undefined ? {} : { status: options.status }) }, { cause: options.cause })
    this.retryable = options.retryable
    this.retryAfterMs = options.retryAfterMs
  }
}

/** A request the adapter cannot express: a kind it does not support, or more items than one request takes. */
export class CdnUnsupportedError extends TierCacheError {
  override readonly name = 'CdnUnsupportedError'
  constructor(provider: string, message: string, context: ErrorContext = {}) {
    super('E_CDN_UNSUPPORTED', `${provider}: ${message}`, { provider, ...context })
  }
}

/** A cdn-purger configuration that cannot work; the message starts with the field (`providers[1].zoneId`). */
export class CdnConfigError extends TierCacheError {
  override readonly name = 'CdnConfigError'
  constructor(field: string, message: string) {
    super('E_CDN_CONFIG', `${field}: ${message}`, { option: field })
  }
}

/** Refuses what the contract says an adapter refuses: an undeclared kind, too many items, an empty list. */
export function checkRequest(purger: Pick<CdnPurger, 'name' | 'capabilities' | 'limits'>, request: PurgeRequest): void {
  if (!purger.capabilities.kinds.includes(request.kind)) {
    throw new CdnUnsupportedError(purger.name, `cannot purge by ${request.kind} (supports ${purger.capabilities.kinds.join(', ')})`, { kind: request.kind })
  }
  if (request.kind === 'all') return
  const max = purger.limits.itemsPerRequest[request.kind]
  if (request.items.length === 0) throw new CdnUnsupportedError(purger.name, `a ${request.kind} purge needs at least one item`, { kind: request.kind })
  if (request.items.length > max) {
    throw new CdnUnsupportedError(purger.name, `${request.items.length} ${request.kind} in one request; at most ${max}`, { kind: request.kind })
  }
}

/** True for HTTP statuses worth retrying: 408, 425, 429 and every 5xx. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500
}

/** A `Retry-After` header (seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value === '') return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
