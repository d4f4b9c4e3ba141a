/**
 * tiercache: the core. Importing this module loads neither ioredis nor pg; adapters live on
 * subpath exports (`tiercache/redis`).
 */
export { TierCache, createCache } from './core/cache.js'
export type { CacheResult, GetOrSetOptions, Invalidation, Loader, LoaderContext, SetManyItem, SetOptions } from './core/cache-types.js'
export type { LockHandle, LockOptions } from './core/lock.js'
export type { CoherenceOptions, LeaseOptions } from './core/options.js'
export type { CacheOptions, EntryOptions, L1Options, L2Options } from './core/options.js'
export { DEFAULTS } from './core/options.js'
export type { Duration } from './core/duration.js'
export { parseDuration } from './core/duration.js'
export type { Clock, TimerHandle } from './ports/clock.js'
export { SystemClock, systemClock } from './core/clock.js'
export { ManualClock } from './core/manual-clock.js'
export type { CacheEntry } from './ports/entry.js'
export type { CacheStats } from './core/stats.js'
export type { Logger } from './ports/logger.js'
export type { Serialized, Serializer } from './core/serializer.js'
export { UnserializableValueError, jsonSerializer, v8Serializer } from './core/serializer.js'
export {
  CacheClosedError, ERROR_CODES, FormatError, InvalidKeyError, InvalidOptionError, InvalidTagError, InvalidValueError,
  L2Error, LoaderTimeoutError, LockError, TierCacheError, isTierCacheError,
} from './core/errors.js'
export type { ErrorCode, ErrorContext } from './core/errors.js'
export { channels, CHANNEL_NAMES } from './core/telemetry.js'
export type { CacheStore, EvictionReason, L1Store, L1StoreStats, MaybePromise } from './ports/store.js'
export type { CoherentStore, FillResult, LeaseRead } from './ports/coherent-store.js'
export type { LockStore } from './ports/lock-store.js'
export type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage, PublishReceipt } from './ports/bus.js'
export { BUS_FORMAT_VERSION } from './ports/bus.js'
export { MemoryBus } from './bus/memory-bus.js'
export { LruStore, defaultWeigher, ENTRY_OVERHEAD_BYTES } from './l1/lru-store.js'
export { TinyLfuStore } from './l1/tinylfu/tinylfu-store.js'
export { L1_POLICIES, createL1Store } from './l1/create-l1-store.js'
export type { CreateL1StoreOptions, L1Policy } from './l1/create-l1-store.js'
export type { L1StoreOptions } from './l1/lru-store.js'
