import type { Clock } from '../ports/clock.js'
import { systemClock } from './clock.js'
import type { Duration } from './duration.js'
import { parseDuration } from './duration.js'
import { InvalidOptionError } from './errors.js'
import type { Logger } from '../ports/logger.js'
import { consoleLogger, silentLogger } from './logger.js'
import type { Serializer } from './serializer.js'
import { SERIALIZERS } from './serializer.js'
import type { CacheStore, L1Store } from '../ports/store.js'
import type { InvalidationBus } from '../ports/bus.js'
import type { L1Policy } from '../l1/create-l1-store.js'
import { L1_POLICIES } from '../l1/create-l1-store.js'

/** L1 (in-process) options. */
export interface L1Options {
  /** Upper bound on the bytes L1 holds (serialized size + per-entry overhead). Default 64 MiB. */
  maxBytes?: number
  /**
   * Hard cap on how long any entry lives in L1, whatever its TTL: the last line of defence against
   * a missed invalidation. Default `'1h'`.
   */
  maxTtl?: Duration
  /** Eviction policy. Default {@link DEFAULTS.l1Policy}. */
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
  /** A Redis URL (`redis://host:port/db`) or ioredis options; tiercache owns the connection. */
  redis?: string | Record<string, unknown>
  /** Redis Cluster seed nodes; tiercache owns the connection. */
  cluster?: readonly { host: string; port: number }[]
  /** An ioredis `Redis` or `Cluster` you own; tiercache never closes it. */
  client?: unknown
  /** Any store implementing the port (for example from `tiercache/redis`). */
  store?: CacheStore
  /** Per-operation budget; a slower answer counts as a failure. Default `'100ms'`. */
  timeout?: Duration
  /** How long the first calls wait for the initial connection (tiercache-owned connections). Default `'1s'`. */
  connectTimeout?: Duration
  /** Consecutive failures that open the circuit breaker. Default 5. */
  breakerThreshold?: number
  /** How long the breaker stays open before one probe is let through. Default `'2s'`. */
  breakerCooldown?: Duration
}

/** Options accepted by per-call methods (`set`, `getOrSet`). */
export interface EntryOptions {
  /** Freshness. */
  ttl?: Duration
  /** How long past freshness a value may still be served when the loader fails. */
  grace?: Duration
  /** Tags for group invalidation. */
  tags?: readonly string[]
}

/** Options of `createCache`. */
export interface CacheOptions extends EntryOptions {
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
  // W-TinyLFU: 10-40 points more hits than LRU on real traces (BENCHMARKS.md) for ~50 ns more per
  // L1 hit; a point of hit ratio saves far more than that in L2 and database trips.
  l1Policy: 'tinylfu' as L1Policy,
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

/** Options after validation: complete, frozen, durations in milliseconds. */
export interface ResolvedOptions {
  readonly namespace: string
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly l1: false | {
    readonly maxBytes: number
    readonly maxTtl: number
    readonly policy: L1Policy
    readonly clone: boolean
    readonly store: L1Store | undefined
  }
  readonly l2: undefined | {
    readonly source:
      | { readonly kind: 'redis'; readonly redis: string | Record<string, unknown> }
      | { readonly kind: 'cluster'; readonly nodes: readonly { host: string; port: number }[] }
      | { readonly kind: 'client'; readonly client: unknown }
      | { readonly kind: 'store'; readonly store: CacheStore }
    readonly timeout: number
    readonly connectTimeout: number
    readonly breakerThreshold: number
    readonly breakerCooldown: number
  }
  readonly timeout: number | undefined
  readonly softTimeout: number | undefined
  readonly graceBackoff: number
  readonly maxValueBytes: number
  readonly serializer: Serializer
  readonly clock: Clock
  readonly logger: Logger
  readonly bus: InvalidationBus | false | undefined
  readonly fencedTtl: number
  readonly tombstoneTtl: number
  readonly tagTtl: number
  readonly lease: false | { readonly ttl: number; readonly wait: number }
}

const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/

/** Validates `createCache` options once. Throws {@link InvalidOptionError} naming the option. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {}
  if (!isRecord(options)) throw new InvalidOptionError('options', 'an object', options)
  const o = options as CacheOptions

  const namespace = o.namespace ?? DEFAULTS.namespace
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw new InvalidOptionError('namespace', 'a string of 1 to 64 characters from [A-Za-z0-9_.-]', namespace)
  }
  const ttl = o.ttl === undefined ? DEFAULTS.ttl : parseDuration(o.ttl, 'ttl')
  const grace = o.grace === undefined ? DEFAULTS.grace : parseDuration(o.grace, 'grace')

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
  let lease: ResolvedOptions['lease'] = false
  if (o.lease !== false) {
    const l = o.lease ?? {}
    if (!isRecord(l)) throw new InvalidOptionError('lease', 'false or an object { ttl, wait }', l)
    const leaseTtl = l.ttl === undefined ? DEFAULTS.leaseTtl : positiveDuration(l.ttl, 'lease.ttl')
    lease = Object.freeze({ ttl: leaseTtl, wait: l.wait === undefined ? leaseTtl : parseDuration(l.wait, 'lease.wait') })
  }

  return Object.freeze({
    bus: bus,
    fencedTtl: coherence.fencedTtl === undefined ? DEFAULTS.fencedTtl : parseDuration(coherence.fencedTtl, 'coherence.fencedTtl'),
    tombstoneTtl: coherence.tombstoneTtl === undefined ? DEFAULTS.tombstoneTtl : positiveDuration(coherence.tombstoneTtl, 'coherence.tombstoneTtl'),
    tagTtl: coherence.tagTtl === undefined ? DEFAULTS.tagTtl : positiveDuration(coherence.tagTtl, 'coherence.tagTtl'),
    lease,
    namespace,
    ttl,
    grace,
    tags: Object.freeze([]),
    l1: resolveL1(o.l1),
    l2: resolveL2(o.l2),
    timeout: o.timeout === undefined ? undefined : positiveDuration(o.timeout, 'timeout'),
    softTimeout: o.softTimeout === undefined ? undefined : positiveDuration(o.softTimeout, 'softTimeout'),
    graceBackoff: o.graceBackoff === undefined ? DEFAULTS.graceBackoff : parseDuration(o.graceBackoff, 'graceBackoff'),
    maxValueBytes,
    serializer,
    clock,
    logger,
  })
}

function resolveL1(l1: unknown): ResolvedOptions['l1'] {
  if (l1 === false) return false
  if (l1 === undefined) l1 = {}
  if (!isRecord(l1)) throw new InvalidOptionError('l1', 'an object or false', l1)
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
  return Object.freeze({
    maxBytes,
    maxTtl: o.maxTtl === undefined ? DEFAULTS.l1MaxTtl : positiveDuration(o.maxTtl, 'l1.maxTtl'),
    policy,
    clone: o.clone ?? false,
    store,
  })
}

function resolveL2(l2: unknown): ResolvedOptions['l2'] {
  if (l2 === undefined) return undefined
  if (!isRecord(l2)) throw new InvalidOptionError('l2', 'an object with one of redis, cluster, client or store', l2)
  const o = l2 as L2Options
  const given = (['redis', 'cluster', 'client', 'store'] as const).filter((k) => o[k] !== undefined)
  if (given.length !== 1) {
    throw new InvalidOptionError('l2', 'an object with exactly one of redis, cluster, client or store',
      given.length === 0 ? l2 : `${given.join(' and ')}`)
  }
  let source: NonNullable<ResolvedOptions['l2']>['source']
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
  return Object.freeze({
    source,
    timeout: o.timeout === undefined ? DEFAULTS.l2Timeout : positiveDuration(o.timeout, 'l2.timeout'),
    connectTimeout: o.connectTimeout === undefined ? DEFAULTS.l2ConnectTimeout : positiveDuration(o.connectTimeout, 'l2.connectTimeout'),
    breakerThreshold,
    breakerCooldown: o.breakerCooldown === undefined ? DEFAULTS.breakerCooldown : positiveDuration(o.breakerCooldown, 'l2.breakerCooldown'),
  })
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

/** Per-call entry options, validated on each call (cheap: most calls pass none). */
export function resolveEntryOptions(defaults: ResolvedOptions, options: EntryOptions | undefined):
  { ttl: number; grace: number } {
  if (options === undefined) return { ttl: defaults.ttl, grace: defaults.grace }
  if (!isRecord(options)) throw new InvalidOptionError('options', 'an object', options)
  return {
    ttl: options.ttl === undefined ? defaults.ttl : parseDuration(options.ttl, 'ttl'),
    grace: options.grace === undefined ? defaults.grace : parseDuration(options.grace, 'grace'),
  }
}

/** A duration that must be > 0. */
export function positiveDuration(value: unknown, option: string): number {
  const ms = parseDuration(value, option)
  if (ms <= 0) throw new InvalidOptionError(option, 'a duration greater than zero', value)
  return ms
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** A non-null, non-array object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
