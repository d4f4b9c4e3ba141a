import diagnostics from 'node:diagnostics_channel'

/**
 * Telemetry leaves through `diagnostics_channel`. Publishers check `hasSubscribers` first, so with
 * nobody listening the hit path builds no event object. Messages carry the key for tracing;
 * metric exporters must label only by the bounded fields (namespace, tier, result), never the key.
 */
export const channels = {
  /** A read was answered: `{ namespace, key, tier: 'l1' | 'l2' }`. */
  hit: diagnostics.channel('tiercache:hit'),
  /** A read found nothing fresh in any tier: `{ namespace, key }`. */
  miss: diagnostics.channel('tiercache:miss'),
  /** A loader settled: `{ namespace, key, durationMs, ok, timedOut }`. */
  load: diagnostics.channel('tiercache:load'),
  /** A stale value was served: `{ namespace, key, reason: 'loader-error' | 'soft-timeout' | 'hard-timeout' | 'backoff' }`. */
  stale: diagnostics.channel('tiercache:stale'),
  /** A shared tier changed state: `{ namespace, tier: 'l2' | 'bus', state }`. */
  tier: diagnostics.channel('tiercache:tier'),
  /**
   * An invalidation from another node was applied to L1: `{ namespace, at, keys, tags }` where `at`
   * is the publisher's clock at publish time (propagation latency = now - at on one machine).
   */
  invalidated: diagnostics.channel('tiercache:invalidated'),
  /** L1 was flushed because invalidations may have been missed: `{ namespace, reason }`. */
  flush: diagnostics.channel('tiercache:flush'),
} as const

/** Every channel name, for exporters that subscribe to all of them. */
export const CHANNEL_NAMES = ['tiercache:hit', 'tiercache:miss', 'tiercache:load', 'tiercache:stale', 'tiercache:tier',
  'tiercache:invalidated', 'tiercache:flush'] as const
