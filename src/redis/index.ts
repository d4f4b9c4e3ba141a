/** tiercache/redis: the Redis adapters (L2 store; later the bus and locks). Loads ioredis. */
export { RedisStore, createRedisStore } from './redis-store.js'
export type { RedisStoreOptions } from './redis-store.js'
export { CACHE_CONNECTION_DEFAULTS, connect, isCluster } from './connection.js'
export type { RedisClient, RedisSource } from './connection.js'
export { ENTRY_FORMAT_VERSION, ENTRY_MAGIC, decodeEntry, encodeEntry } from './envelope.js'
export { KEY_LAYOUT_VERSION, RedisKeys } from './keys.js'
