import type { Logger } from '../ports/logger.js'
import type { Clock } from '../ports/clock.js'
import type { Serializer } from '../core/serializer.js'
import type { RedisStore } from '../redis/redis-store.js'
import { createRedisStore } from '../redis/redis-store.js'
import { isCommandRejection } from '../redis/connection.js'
import { RedisStreamBus } from '../redis/stream-bus.js'
import { RedisWriteQueue } from '../redis/write-queue.js'
import type { WriteQueues } from '../core/write-patterns.js'
import type { L2Source } from './options.js'

/** The Redis tiers of one cache: the L2 store and, unless turned off, the Streams bus on the same connection. */
export interface RedisTiers {
  readonly store: RedisStore
  readonly bus: RedisStreamBus | undefined
  /** Whether tiercache opened the connection (and so closes it). */
  readonly owned: boolean
  /** Write-behind queues: Redis Streams on the store's connection. */
  readonly queues: WriteQueues
}

/**
 * Builds the Redis store (and bus) for `l2.redis`, `l2.cluster` or `l2.client`. The store object
 * exists at once, connected or not; the cache waits for its first connection itself.
 */
export function openRedisTiers(source: Exclude<L2Source, { kind: 'store' }>, options: {
  namespace: string; serializer: Serializer; clock: Clock; logger: Logger; tagTtl: number; handshakeMs: number; withBus: boolean
}): RedisTiers {
  const store = createRedisStore({
    ...(source.kind === 'redis' ? { redis: source.redis } : source.kind === 'cluster' ? { cluster: source.nodes } : { client: source.client }),
    namespace: options.namespace,
    serializer: options.serializer,
    clock: options.clock,
    handshakeTimeout: options.handshakeMs,
  })
  // The bus publishes on the store's connection; its follower opens its own.
  const bus = options.withBus
    ? new RedisStreamBus({ client: store.client, namespace: options.namespace, logger: options.logger, tagTtlMs: options.tagTtl, handshakeTimeout: options.handshakeMs })
    : undefined
  const queues: WriteQueues = {
    open: (name, timeoutMs) => new RedisWriteQueue({ client: store.client, namespace: options.namespace, name, timeoutMs }),
    isRejection: isCommandRejection,
  }
  return { store, bus, owned: source.kind !== 'client', queues }
}
