import { TierCacheError } from '../core/errors.js'
import type { ErrorContext } from '../core/errors.js'

/**
 * A change-capture mapping that cannot work: `E_CDC_CONFIG` when the mapping itself is malformed
 * (found without a database), `E_CDC_SCHEMA` when it does not match the database it is run
 * against (found at start, before any change is read). Either way nothing is installed or read.
 */
export class CaptureConfigError extends TierCacheError {
  override readonly name = 'CaptureConfigError'

  constructor(code: 'E_CDC_CONFIG' | 'E_CDC_SCHEMA', message: string, context: ErrorContext = {}) {
    super(code, message, context)
  }
}
