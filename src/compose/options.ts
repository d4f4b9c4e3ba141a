import type { RedisOptions } from 'ioredis'
import type { InvalidationBus } from '../ports/bus.js'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { CacheStore, L1Store } from '../ports/store.js'
import { assertKnownKeys, entryDuration, isRecord, timerDuration } from '../core/call-options.js'
import { systemClock } from '../core/clock.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { consoleLogger, silentLogger } from '../core/logger.js'
import type { Serializer } from '../core/serializer.js'
import { SERIALIZERS } from '../core/serializer.js'
import type { CacheSettings } from '../core/settings.js'
import type { L1Policy } from '../l1/create-l1-store.js'
import { DEFAULT_L1_POLICY, L1_POLICIES } from '../l1/create-l1-store.js'

/** L1 (in-process) options. */
export interface L1Options {
  /** Upper bound on the bytes L1 holds (serialized size + per-entry overhead). Default 64 MiB. */
  maxBytes?: number
  /**
   * Hard cap on how long any entry lives in L1, whatever its TTL: the last line of defence against
   * a missed invalidation. Default `'1h'`.
   */
  maxTtl?: Duration
  /** Eviction policy. Default `'tinylfu'` (adaptive W-TinyLFU). */
  policy?: L1Policy
  /**
   * Return a fresh copy on every L1 hit (deserialized from the stored bytes). Off by default: hits
   * return the stored object itself, so cached values must be treated as immutable.
   */
  clone?: boolean
  /** A custom synchronous store (replaces `policy` and `maxBytes`). */
  store?: L1Store
}

/** L2 (shared, Redis) options. Give exactly one of `redis`, `cluster`, `client` or `store`. */
export interface L2Options {
  /**
   * A Redis URL (`redis://host:port/db`) or ioredis options (`{ host, port, password, tls, ... }`);
   * tiercache owns the connection. Needs the `ioredis` package installed.
   */
  redis?: string | RedisOptions
  /** Redis Cluster seed nodes; tiercache owns the connection. */
  cluster?: readonly { host: string; port: number }[]
  /** An ioredis `Redis` or `Cluster` you own; tiercache never closes it. */
  client?: unknown
  /** Any store implementing the port (for example from `tiercache/redis`). */
  store?: CacheStore
  /** Per-operation budget; a slower answer counts as a failure. Default `'100ms'`. */
  timeout?: Duration
  /**
   * The start budget: how long the first calls of a new cache wait for Redis and the bus to
   * connect before falling back (a refused connection, or one that connects but does not answer
   * within `timeout`, falls back at once). Also bounds how long `close()` waits for work in flight.
   * Default `'1s'`.
   */
  connectTimeout?: Duration
  /** Consecutive failures that open the circuit breaker. Default 5. */
  breakerThreshold?: number
  /** How long the breaker stays open before one probe is let through. Default `'2s'`. */
  breakerCooldown?: Duration
}


/** Options of `createCache`. */
export interface CacheOptions {
  /** Default freshness of entries. Default `'5m'`. */
  ttl?: Duration
  /** Default time past freshness a value may still be served when the loader fails. Default 0. */
  grace?: Duration
  /** Key prefix: isolates caches that share one Redis. Default `'default'`. */
  namespace?: string
  /** L1 options, or `false` to run without L1. */
  l1?: L1Options | false
  /** L2 options; omit for L1 only. */
  l2?: L2Options
  /** Loader hard timeout: past it `getOrSet` rejects with `E_LOADER_TIMEOUT` (or serves stale). */
  timeout?: Duration
  /** Loader soft timeout: past it, a stale value is returned and the load finishes in the background. */
  softTimeout?: Duration
  /** After a loader failure served from grace, how long before the loader is tried again. Default `'5s'`. */
  graceBackoff?: Duration
  /** Largest serialized value accepted. Default 8 MiB. */
  maxValueBytes?: number
  /** `'json'` (default), `'v8'`, or a custom serializer. */
  serializer?: 'json' | 'v8' | Serializer
  /** Time source (tests inject a ManualClock). */
  clock?: Clock
  /** Where state changes (breaker open/closed, L2 errors) are logged, once each. `false` for silence. */
  logger?: Logger | false
  /**
   * The invalidation bus every node of the namespace follows. Default: a Redis Streams bus on the
   * L2 connection when L2 is Redis; none otherwise (pass a `MemoryBus` to share one between caches
   * of one process). `false` turns coherence across nodes off (one node only!).
   */
  bus?: InvalidationBus | false
  /** Cross-node coherence settings. */
  coherence?: CoherenceOptions
  /**
   * Fill leases in L2 (one load per key across processes, and fills fenced against invalidations).
   * On by default when L2 supports them (Redis); `false` to turn off.
   */
  lease?: LeaseOptions | false
}

/** Cross-node coherence settings. */
export interface CoherenceOptions {
  /** While the bus is disconnected, L1 entries are written with at most this freshness. Default `'1s'`. */
  fencedTtl?: Duration
  /** How long an invalidated source version is remembered, rejecting older fills. Default `'1h'`. */
  tombstoneTtl?: Duration
  /** How long a tag version outlives its last invalidation; tagged entries never live longer. Default `'7d'`. */
  tagTtl?: Duration
}

/** Fill lease settings. */
export interface LeaseOptions {
  /** How long a lease holder has to fill the key before others may. Default `'10s'`. */
  ttl?: Duration
  /** How long a caller waits for another process's load before loading itself. Default: `ttl`. */
  wait?: Duration
}

/** Defaults, in one place. */
export const DEFAULTS = {
  namespace: 'default',
  ttl: 5 * 60_000,
  grace: 0,
  l1MaxBytes: 64 * 1024 * 1024,
  l1Policy: DEFAULT_L1_POLICY,
  l1MaxTtl: 60 * 60_000,
  l2Timeout: 100,
  l2ConnectTimeout: 1_000,
  breakerThreshold: 5,
  breakerCooldown: 2_000,
  graceBackoff: 5_000,
  maxValueBytes: 8 * 1024 * 1024,
  fencedTtl: 1_000,
  tombstoneTtl: 60 * 60_000,
  tagTtl: 7 * 86_400_000,
  leaseTtl: 10_000,
} as const


/** Where L2 lives, as the user gave it. */
export type L2Source =
  | { readonly kind: 'redis'; readonly redis: string | RedisOptions }
  | { readonly kind: 'cluster'; readonly nodes: readonly { host: string; port: number }[] }
  | { readonly kind: 'client'; readonly client: unknown }
  | { readonly kind: 'store'; readonly store: CacheStore }

/** `createCache` options after validation: the core's settings plus what the tiers are built from. */
export interface ResolvedOptions {
  readonly settings: CacheSettings
  readonly l1: false | { readonly maxBytes: number; readonly policy: L1Policy; readonly store: L1Store | undefined }
  readonly l2: undefined | {
    readonly source: L2Source
    readonly timeout: number
    readonly breakerThreshold: number
    readonly breakerCooldown: number
  }
  /** `false`: no bus even with Redis (one node only). */
  readonly bus: InvalidationBus | false | undefined
}

const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/

const CACHE_KEYS: ReadonlySet<string> = new Set(['namespace', 'ttl', 'grace', 'l1', 'l2', 'timeout', 'softTimeout', 'graceBackoff',
  'maxValueBytes', 'serializer', 'clock', 'logger', 'bus', 'coherence', 'lease'])
const L1_KEYS: ReadonlySet<string> = new Set(['maxBytes', 'maxTtl', 'policy', 'clone', 'store'])
const L2_KEYS: ReadonlySet<string> = new Set(['redis', 'cluster', 'client', 'store', 'timeout', 'connectTimeout', 'breakerThreshold', 'breakerCooldown'])
const COHERENCE_KEYS: ReadonlySet<string> = new Set(['fencedTtl', 'tombstoneTtl', 'tagTtl'])
const LEASE_KEYS: ReadonlySet<string> = new Set(['ttl', 'wait'])

/**
 * Validates `createCache` options once. Throws `E_INVALID_OPTION` naming the option (and, for a
 * key tiercache does not know, the likely intended one).
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {}
  if (!isRecord(options)) throw new InvalidOptionError('options', 'an object', options)
  assertKnownKeys(options, CACHE_KEYS)
  const o = options as CacheOptions

  const namespace = o.namespace ?? DEFAULTS.namespace
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw new InvalidOptionError('namespace', 'a string of 1 to 64 characters from [A-Za-z0-9_.-]', namespace)
  }
  const serializer = resolveSerializer(o.serializer)
  const maxValueBytes = o.maxValueBytes ?? DEFAULTS.maxValueBytes
  if (!isPositiveInteger(maxValueBytes)) throw new InvalidOptionError('maxValueBytes', 'a positive integer', maxValueBytes)

  const clock = o.clock ?? systemClock
  if (!isRecord(clock) || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new InvalidOptionError('clock', 'an object with now(), setTimeout() and clearTimeout()', clock)
  }
  let logger: Logger
  if (o.logger === false) logger = silentLogger
  else if (o.logger === undefined) logger = consoleLogger
  else if (isRecord(o.logger) && typeof o.logger.warn === 'function' && typeof o.logger.error === 'function') logger = o.logger
  else throw new InvalidOptionError('logger', 'false or an object with warn() and error()', o.logger)

  const bus = o.bus
  if (bus !== undefined && bus !== false && (!isRecord(bus) || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function')) {
    throw new InvalidOptionError('bus', 'false or an InvalidationBus (publish, subscribe, close)', bus)
  }
  const coherence = o.coherence ?? {}
  if (!isRecord(coherence)) throw new InvalidOptionError('coherence', 'an object', coherence)
  assertKnownKeys(coherence, COHERENCE_KEYS, 'coherence.')
  let lease: CacheSettings['lease'] = false
  if (o.lease !== false) {
    const l = o.lease ?? {}
    if (!isRecord(l)) throw new InvalidOptionError('lease', 'false or an object { ttl, wait }', l)
    assertKnownKeys(l, LEASE_KEYS, 'lease.')
    const leaseTtl = l.ttl === undefined ? DEFAULTS.leaseTtl : timerDuration(l.ttl, 'lease.ttl')
    lease = Object.freeze({ ttl: leaseTtl, wait: l.wait === undefined ? leaseTtl : timerDuration(l.wait, 'lease.wait', true) })
  }
  const l1 = resolveL1(o.l1)
  const l2 = resolveL2(o.l2)

  const settings: CacheSettings = Object.freeze({
    namespace,
    ttl: o.ttl === undefined ? DEFAULTS.ttl : entryDuration(o.ttl, 'ttl'),
    grace: o.grace === undefined ? DEFAULTS.grace : entryDuration(o.grace, 'grace'),
    timeout: o.timeout === undefined ? undefined : timerDuration(o.timeout, 'timeout'),
    softTimeout: o.softTimeout === undefined ? undefined : timerDuration(o.softTimeout, 'softTimeout'),
    graceBackoff: o.graceBackoff === undefined ? DEFAULTS.graceBackoff : timerDuration(o.graceBackoff, 'graceBackoff', true),
    maxValueBytes,
    serializer,
    clock,
    logger,
    l1: l1 === false ? false : Object.freeze({ maxTtl: l1.maxTtl, clone: l1.clone }),
    connectTimeout: l2?.connectTimeout ?? DEFAULTS.l2ConnectTimeout,
    fencedTtl: coherence.fencedTtl === undefined ? DEFAULTS.fencedTtl : timerDuration(coherence.fencedTtl, 'coherence.fencedTtl', true),
    tombstoneTtl: coherence.tombstoneTtl === undefined ? DEFAULTS.tombstoneTtl : entryDuration(coherence.tombstoneTtl, 'coherence.tombstoneTtl') || invalidZero('coherence.tombstoneTtl'),
    tagTtl: coherence.tagTtl === undefined ? DEFAULTS.tagTtl : entryDuration(coherence.tagTtl, 'coherence.tagTtl') || invalidZero('coherence.tagTtl'),
    lease,
  })
  return Object.freeze({
    settings,
    l1: l1 === false ? false : Object.freeze({ maxBytes: l1.maxBytes, policy: l1.policy, store: l1.store }),
    l2: l2 === undefined ? undefined : Object.freeze({ source: l2.source, timeout: l2.timeout, breakerThreshold: l2.breakerThreshold, breakerCooldown: l2.breakerCooldown }),
    bus,
  })
}

function invalidZero(option: string): never {
  throw new InvalidOptionError(option, 'a duration greater than zero', 0)
}

function resolveL1(l1: unknown): false | { maxBytes: number; maxTtl: number; policy: L1Policy; clone: boolean; store: L1Store | undefined } {
  if (l1 === false) return false
  if (l1 === undefined) l1 = {}
  if (!isRecord(l1)) throw new InvalidOptionError('l1', 'an object or false', l1)
  assertKnownKeys(l1, L1_KEYS, 'l1.')
  const o = l1 as L1Options
  const maxBytes = o.maxBytes ?? DEFAULTS.l1MaxBytes
  if (!isPositiveInteger(maxBytes)) throw new InvalidOptionError('l1.maxBytes', 'a positive integer', maxBytes)
  const policy = o.policy ?? DEFAULTS.l1Policy
  if (!L1_POLICIES.includes(policy)) throw new InvalidOptionError('l1.policy', L1_POLICIES.map((p) => `'${p}'`).join(' or '), policy)
  if (o.clone !== undefined && typeof o.clone !== 'boolean') throw new InvalidOptionError('l1.clone', 'a boolean', o.clone)
  const store = o.store
  if (store !== undefined && (!isRecord(store) || typeof store.get !== 'function' || typeof store.peek !== 'function')) {
    throw new InvalidOptionError('l1.store', 'an L1Store (synchronous get/set/delete/peek)', store)
  }
  return {
    maxBytes,
    maxTtl: o.maxTtl === undefined ? DEFAULTS.l1MaxTtl : entryDuration(o.maxTtl, 'l1.maxTtl') || invalidZero('l1.maxTtl'),
    policy,
    clone: o.clone ?? false,
    store,
  }
}

function resolveL2(l2: unknown): undefined | { source: L2Source; timeout: number; connectTimeout: number; breakerThreshold: number; breakerCooldown: number } {
  if (l2 === undefined) return undefined
  if (!isRecord(l2)) throw new InvalidOptionError('l2', 'an object with one of redis, cluster, client or store', l2)
  assertKnownKeys(l2, L2_KEYS, 'l2.')
  const o = l2 as L2Options
  const given = (['redis', 'cluster', 'client', 'store'] as const).filter((k) => o[k] !== undefined)
  if (given.length !== 1) {
    throw new InvalidOptionError('l2', 'an object with exactly one of redis, cluster, client or store',
      given.length === 0 ? l2 : `${given.join(' and ')}`)
  }
  let source: L2Source
  if (o.redis !== undefined) {
    if (typeof o.redis === 'string') {
      if (!/^rediss?:\/\//.test(o.redis)) throw new InvalidOptionError('l2.redis', 'a redis:// or rediss:// URL or an options object', o.redis)
    } else if (!isRecord(o.redis)) {
      throw new InvalidOptionError('l2.redis', 'a redis:// or rediss:// URL or an options object', o.redis)
    }
    source = { kind: 'redis', redis: o.redis }
  } else if (o.cluster !== undefined) {
    if (!Array.isArray(o.cluster) || o.cluster.length === 0 ||
      !o.cluster.every((n: unknown) => isRecord(n) && typeof n.host === 'string' && Number.isInteger(n.port))) {
      throw new InvalidOptionError('l2.cluster', 'a non-empty array of { host, port }', o.cluster)
    }
    const nodes = o.cluster as readonly { host: string; port: number }[]
    source = { kind: 'cluster', nodes: Object.freeze(nodes.map((n) => ({ host: n.host, port: n.port }))) }
  } else if (o.client !== undefined) {
    if (!isRecord(o.client) || typeof o.client.sendCommand !== 'function') {
      throw new InvalidOptionError('l2.client', 'an ioredis Redis or Cluster instance', o.client)
    }
    source = { kind: 'client', client: o.client }
  } else {
    const store = o.store
    if (!isRecord(store) || typeof store.get !== 'function' || typeof store.set !== 'function') {
      throw new InvalidOptionError('l2.store', 'a CacheStore', store)
    }
    source = { kind: 'store', store: store as unknown as CacheStore }
  }
  const breakerThreshold = o.breakerThreshold ?? DEFAULTS.breakerThreshold
  if (!isPositiveInteger(breakerThreshold)) throw new InvalidOptionError('l2.breakerThreshold', 'a positive integer', breakerThreshold)
  return {
    source,
    timeout: o.timeout === undefined ? DEFAULTS.l2Timeout : timerDuration(o.timeout, 'l2.timeout'),
    connectTimeout: o.connectTimeout === undefined ? DEFAULTS.l2ConnectTimeout : timerDuration(o.connectTimeout, 'l2.connectTimeout'),
    breakerThreshold,
    breakerCooldown: o.breakerCooldown === undefined ? DEFAULTS.breakerCooldown : timerDuration(o.breakerCooldown, 'l2.breakerCooldown'),
  }
}

function resolveSerializer(value: unknown): Serializer {
  if (value === undefined) return SERIALIZERS.json as Serializer
  if (typeof value === 'string') {
    const found = SERIALIZERS[value]
    if (found !== undefined) return found
  } else if (isRecord(value) && typeof value.serialize === 'function' && typeof value.deserialize === 'function' &&
    Number.isInteger(value.id) && (value.id as number) >= 1 && (value.id as number) <= 250) {
    return value as unknown as Serializer
  }
  throw new InvalidOptionError('serializer', "'json', 'v8' or a Serializer with an integer id in 1..250", value)
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}
