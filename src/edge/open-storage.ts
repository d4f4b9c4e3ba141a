import type { Clock } from '../ports/clock.js'
import { parseDuration } from '../core/duration.js'
import type { Logger } from '../ports/logger.js'
import type { EdgeStorage } from './edge-storage.js'
import { MemoryStorage } from './memory-storage.js'
import type { ResolvedEdgeOptions } from './options.js'
import { EDGE_DEFAULTS } from './options.js'

/**
 * Builds the storage the options describe. Memory storage is there at once (the hit path stays
 * synchronous); Redis storage loads the Redis adapter on first use, so an edge on memory storage
 * never loads ioredis. With a bus, Redis storage gets an in-process tier in front (the bus keeps it
 * coherent).
 */
export function openStorage(options: ResolvedEdgeOptions, clock: Clock, logger: Logger): EdgeStorage | Promise<EdgeStorage> {
  const storage = options.storage
  if (storage.type !== 'redis') return new MemoryStorage(storage.maxBytes ?? EDGE_DEFAULTS.memoryMaxBytes, clock, storage.policy)
  return import('./redis-storage.js').then(({ RedisStorage }) => new RedisStorage({
    ...(storage.redis === undefined ? {} : { redis: storage.redis }),
    ...(storage.cluster === undefined ? {} : { cluster: storage.cluster }),
    ...(storage.client === undefined ? {} : { client: storage.client }),
    namespace: storage.namespace ?? EDGE_DEFAULTS.redisNamespace,
    clock,
    timeoutMs: storage.timeout === undefined ? EDGE_DEFAULTS.redisTimeoutMs : parseDuration(storage.timeout, 'storage.timeout'),
    breakerThreshold: storage.breakerThreshold ?? EDGE_DEFAULTS.redisBreakerThreshold,
    breakerCooldownMs: storage.breakerCooldown === undefined ? EDGE_DEFAULTS.redisBreakerCooldownMs : parseDuration(storage.breakerCooldown, 'storage.breakerCooldown'),
    logger,
    l1: options.bus === undefined ? undefined : new MemoryStorage(storage.l1MaxBytes ?? EDGE_DEFAULTS.redisL1MaxBytes, clock),
  }))
}
