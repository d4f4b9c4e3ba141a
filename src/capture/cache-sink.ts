import type { TierCache } from '../core/cache.js'
import type { InvalidationSink } from '../ports/capture.js'

/**
 * Publishes captured changes through a tiercache cache: `invalidate` removes the keys from L2
 * (voiding fill leases, leaving a tombstone with the version) and appends one message to the bus,
 * which every node's L1 and every edge follow. The cache keeps what it could not deliver in its
 * own outbox and retries it; capture must not advance past an invalidation until it is delivered,
 * so anything waiting in that outbox counts as "not confirmed" (give the capture a cache of its
 * own, so that nothing else's pending work is counted).
 */
export function cacheSink(cache: TierCache): InvalidationSink {
  return {
    async invalidate({ keys, tags, version }) {
      await cache.invalidate({ keys, tags, ...(version === undefined ? {} : { version }) })
      return cache.stats().coherence.pendingInvalidations === 0
    },
  }
}
