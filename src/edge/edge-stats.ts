import type { BreakerState } from '../core/circuit-breaker.js'
import type { EdgeStorageStats } from './edge-storage.js'
import type { EdgeCounters, EdgeStats } from './metrics.js'

/** What storage reports before it is open (Redis storage loads asynchronously). */
const NOT_OPEN: EdgeStorageStats = { type: 'memory', entries: 0, bytes: 0, maxBytes: 0, evictions: 0, errors: 0, skipped: 0, breaker: 'closed' }

/** A snapshot of the counters as `edge.stats()` returns it. */
export function edgeStats(id: string, c: EdgeCounters, breaker: BreakerState, storage: EdgeStorageStats | undefined): EdgeStats {
  return {
    id,
    requests: c.requests,
    results: { ...c.results },
    statusClasses: { ...c.statusClasses },
    hits: c.hits,
    misses: c.misses,
    staleServed: c.swr + c.sie,
    staleWhileRevalidate: c.swr,
    staleIfError: c.sie,
    revalidations: c.revalidations,
    notModified: c.notModified,
    collapsed: c.collapsed,
    passes: c.passes,
    stored: c.stored,
    notStored: Object.fromEntries(c.notStored),
    originRequests: c.originRequests,
    originErrors: c.originErrors,
    originTimeouts: c.originTimeouts,
    originBodyTimeouts: c.originBodyTimeouts,
    fillsCancelled: c.fillsCancelled,
    waitersRefused: c.waitersRefused,
    originRejected: c.originRejected,
    breaker,
    bytesServed: c.bytesServed,
    bytesFromOrigin: c.bytesFromOrigin,
    originLatency: { count: c.latencyCount, sumMs: c.latencySum, buckets: [...c.latencyBuckets] },
    purges: c.purges,
    purgeBatches: c.purgeBatches,
    purgedEntries: c.purgedEntries,
    purgesRateLimited: c.purgesRateLimited,
    rejected: c.rejected,
    purgeRefused: c.purgeRefused,
    busGaps: c.busGaps,
    storage: storage ?? NOT_OPEN,
  }
}
