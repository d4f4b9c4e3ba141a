import { InvalidOptionError } from '../core/errors.js'
import type { CacheStats } from '../core/stats.js'
import type { EdgeStats } from '../edge/metrics.js'
import type { CaptureStats } from '../ports/capture.js'
import type { CdnPurgeRunnerStats } from '../cdn/runner.js'
import { captureSource } from './capture-source.js'
import { cdnSource } from './cdn-source.js'
import { cacheSource } from './cache-source.js'
import { edgeSource } from './edge-source.js'
import type { MetricSource, ObservationListener } from './family.js'

/** A cache (`createCache`), an edge (`createEdge`), a change capture or a CDN purge runner: anything with the `stats()` of one of them. */
export interface Observable {
  stats(): CacheStats | EdgeStats | CaptureStats | CdnPurgeRunnerStats
}

/** Builds the source for a cache or an edge, told apart by what their `stats()` returns. */
export function sourceOf(target: unknown, now: () => number, onObserve?: ObservationListener): MetricSource {
  const stats = typeof (target as { stats?: unknown } | null)?.stats === 'function' ? (target as Observable).stats() : undefined
  if (stats !== undefined && typeof (stats as EdgeStats).id === 'string' && 'results' in stats) return edgeSource(target as { stats(): EdgeStats }, onObserve)
  if (stats !== undefined && typeof (stats as CacheStats).namespace === 'string' && 'loader' in stats) return cacheSource(target as { stats(): CacheStats }, now, onObserve)
  if (stats !== undefined && typeof (stats as CaptureStats).mode === 'string' && 'depth' in stats && 'lagMs' in stats) return captureSource(target as { stats(): CaptureStats })
  if (stats !== undefined && Array.isArray((stats as CdnPurgeRunnerStats).purgers) && 'deadLettered' in stats) return cdnSource(target as { stats(): CdnPurgeRunnerStats })
  throw new InvalidOptionError('the first argument', 'a cache (createCache), an edge (createEdge), a change capture (startOutboxCapture) or a CDN purge runner (CdnPurgeRunner)', target)
}
