/** tiercache/redis: the Redis adapters (L2 store with leases and locks, the Streams invalidation bus). Loads ioredis. */
export { RedisStore, createRedisStore } from './redis-store.js'
export type { RedisStoreOptions } from './redis-store.js'
export { CACHE_CONNECTION_DEFAULTS, connect, isCluster } from './connection.js'
export type { RedisClient, RedisSource } from './connection.js'
export { ENTRY_FORMAT_VERSION, ENTRY_MAGIC, decodeEntry, encodeEntry } from './envelope.js'
export { KEY_LAYOUT_VERSION, RedisKeys } from './keys.js'
export { RedisStreamBus, compareIds, decodeMessage } from './stream-bus.js'
export type { RedisStreamBusOptions } from './stream-bus.js'
