import type { InvalidationBus } from '../ports/bus.js'
import { TierCache } from '../core/cache.js'
import type { CacheTiers } from '../core/cache.js'
import { SharedTier } from '../core/shared-tier.js'
import { channels } from '../core/telemetry.js'
import { TierGuard } from '../core/tier-guard.js'
import type { WriteQueues } from '../core/write-patterns.js'
import { createL1Store } from '../l1/create-l1-store.js'
import { isCommandRejection } from '../redis/connection.js'
import type { CacheOptions } from './options.js'
import { resolveOptions } from './options.js'
import { openRedisTiers } from './redis-tiers.js'

/** Consecutive publish failures that open the bus's breaker (failed invalidations wait in the outbox). */
const BUS_BREAKER_THRESHOLD = 5
const BUS_BREAKER_COOLDOWN_MS = 1_000
/** Publish budget without L2 settings to borrow one from (a bus given on its own). */
const BUS_TIMEOUT_MS = 1_000

/**
 * Creates a tiered cache: the composition root. Options are validated here, once (see
 * {@link CacheOptions}); the L1 store, the shared tier with its guard and the bus are built here
 * and handed to the core, which never constructs an adapter. A new backend is a new adapter plus
 * a branch here.
 *
 * The cache can be used at once: its first calls wait for Redis and the bus to connect (up to
 * `l2.connectTimeout`, less when the connection is refused or unanswered), so leases and
 * invalidations hold from the first call. `await cache.ready()` waits for the same thing.
 */
export function createCache(options?: CacheOptions): TierCache {
  const { settings, l1, l2, bus: busOption } = resolveOptions(options)
  const owned: { close(): unknown }[] = []
  const l1Store = l1 === false ? undefined : (l1.store ?? createL1Store({ policy: l1.policy, maxBytes: l1.maxBytes, clock: settings.clock }))
  let shared: SharedTier | undefined
  let queues: WriteQueues | undefined
  let bus: InvalidationBus | undefined = busOption === false ? undefined : busOption
  if (l2 !== undefined) {
    const source = l2.source
    const namespace = settings.namespace
    const guard = new TierGuard('L2', {
      timeoutMs: l2.timeout,
      threshold: l2.breakerThreshold,
      cooldownMs: l2.breakerCooldown,
      clock: settings.clock,
      logger: settings.logger,
      // A Redis error reply refuses one command; it does not mean Redis is down.
      isRejection: source.kind === 'store' ? undefined : isCommandRejection,
      onStateChange: (state) => {
        if (channels.tier.hasSubscribers) channels.tier.publish({ namespace, tier: 'l2', state })
      },
    })
    if (source.kind === 'store') {
      shared = new SharedTier(guard, source.store)
    } else {
      const redis = openRedisTiers(source, {
        namespace, serializer: settings.serializer, clock: settings.clock, logger: settings.logger, tagTtl: settings.tagTtl,
        handshakeMs: l2.timeout, withBus: busOption === undefined,
      })
      shared = new SharedTier(guard, redis.store)
      queues = redis.queues
      if (redis.bus !== undefined) {
        bus = redis.bus
        owned.push(redis.bus)
      }
      // The store closes after the bus: the bus publishes on the store's connection.
      if (redis.owned) owned.push(redis.store)
    }
  }
  const busGuard = bus === undefined ? undefined : new TierGuard('invalidation bus', {
    timeoutMs: l2?.timeout ?? BUS_TIMEOUT_MS,
    threshold: BUS_BREAKER_THRESHOLD,
    cooldownMs: BUS_BREAKER_COOLDOWN_MS,
    clock: settings.clock,
    logger: settings.logger,
  })
  const tiers: CacheTiers = { l1: l1Store, shared, bus, busGuard, owned, queues }
  return new TierCache(settings, tiers)
}
