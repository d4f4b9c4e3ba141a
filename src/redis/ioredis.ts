import { createRequire } from 'node:module'
import type * as IORedis from 'ioredis'
import { DependencyMissingError } from '../core/errors.js'

type IORedisModule = typeof IORedis

let loaded: IORedisModule | undefined

/**
 * Loads ioredis synchronously, the first time a Redis connection is made. Nothing else in this
 * folder imports it as a value: importing tiercache (or `tiercache/redis`) never loads it, and a
 * cache that is given a client of its own never needs it.
 *
 * Synchronous on purpose: `createCache` builds its tiers on the spot, so the first call of a new
 * cache waits only for the connection, not for a module to load (about 150-200 ms for ioredis).
 * ioredis is CommonJS, so `require` is the one synchronous way to load it.
 */
export function loadIoredis(): IORedisModule {
  if (loaded !== undefined) return loaded
  try {
    loaded = createRequire(import.meta.url)('ioredis') as IORedisModule
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') {
      throw new DependencyMissingError('ioredis', 'Redis (l2.redis, l2.cluster, the Redis bus and edge storage)', error)
    }
    throw error
  }
  return loaded
}
