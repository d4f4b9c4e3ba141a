import { TierCacheError } from '../core/errors.js'

/**
 * Two sources would write the same series into one registry (two caches with one namespace, the
 * same edge twice), or the registry already holds a metric of that name that tiercache did not
 * register. Refused rather than exposing duplicate series, which Prometheus rejects whole.
 */
export class MetricsConflictError extends TierCacheError {
  override readonly name = 'MetricsConflictError'
  constructor(message: string, context: { metric?: string; source?: string } = {}) {
    super('E_METRICS_CONFLICT', message, context)
  }
}
