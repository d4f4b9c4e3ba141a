import { TierCacheError } from '../core/errors.js'
import type { ErrorContext } from '../core/errors.js'

/**
 * A purge was refused (`E_PURGE_UNAUTHORIZED`), malformed (`E_PURGE_INVALID`), too large
 * (`E_PURGE_TOO_LARGE`), over the rate limit (`E_PURGE_RATE_LIMITED`) or could not be delivered
 * (`E_PURGE_FAILED`).
 */
export class PurgeError extends TierCacheError {
  override readonly name = 'PurgeError'
  constructor(code: 'E_PURGE_UNAUTHORIZED' | 'E_PURGE_INVALID' | 'E_PURGE_TOO_LARGE' | 'E_PURGE_RATE_LIMITED' | 'E_PURGE_FAILED', message: string, context: ErrorContext = {}, cause?: unknown) {
    super(code, message, context, cause === undefined ? undefined : { cause })
  }
}

/** The edge configuration file could not be used. */
export class EdgeConfigError extends TierCacheError {
  override readonly name = 'EdgeConfigError'
  constructor(file: string, message: string, cause?: unknown) {
    super('E_EDGE_CONFIG', `edge config ${file}: ${message}`, { file }, cause === undefined ? undefined : { cause })
  }
}
