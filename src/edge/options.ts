import type { Clock } from '../ports/clock.js'
import type { Duration } from '../core/duration.js'
import { parseDuration } from '../core/duration.js'
import { InvalidOptionError, describe } from '../core/errors.js'
import type { Logger } from '../ports/logger.js'
import type { L1Policy } from '../l1/create-l1-store.js'
import { L1_POLICIES } from '../l1/create-l1-store.js'
import type { InvalidationBus } from '../ports/bus.js'
import type { BehaviorOptions, ResolvedBehavior } from './behavior-options.js'
import { BEHAVIOR_DEFAULTS, DEFAULT_BEHAVIORS, resolveBehavior } from './behavior-options.js'
import { TOKEN, bool, duration, objectOption, positiveInt } from './option-values.js'
import { refuseUnknownKeys } from './unknown-keys.js'

/** Where the edge keeps responses. */
export type EdgeStorageOptions =
  | {
    readonly type?: 'memory'
    /** Byte budget. Default 256 MiB. */
    readonly maxBytes?: number
    /** Eviction policy of the store (`createL1Store`). Default: the core's L1 default. */
    readonly policy?: L1Policy
  }
  | {
    readonly type: 'redis'
    /** Redis URL or ioredis options. */
    readonly redis?: string | Record<string, unknown>
    readonly cluster?: readonly { host: string; port: number }[]
    readonly client?: unknown
    /** Key namespace in Redis; every edge sharing a cache uses the same. Default `'edge'`. */
    readonly namespace?: string
    /** In-process tier in front of Redis (only used with a bus, which keeps it coherent). Default 16 MiB. */
    readonly l1MaxBytes?: number
    /** Per-call budget for Redis. Default 100 ms. */
    readonly timeout?: Duration
    /** Consecutive failed Redis calls that open the storage breaker (calls then skip Redis). Default 5. */
    readonly breakerThreshold?: number
    /** How long the storage breaker stays open before one probe call. Default 2 s. */
    readonly breakerCooldown?: Duration
  }

/** Limits of the purge API. */
export interface EdgePurgeOptions {
  /** Largest purge body read; a larger one gets `413`. Default 64 KiB. */
  readonly maxBodyBytes?: number
  /** Purge API requests admitted per second (token bucket); past it, `429` + `Retry-After`. Default 100. */
  readonly ratePerSecond?: number
  /** Purge API requests admitted at once before the rate applies. Default 200. */
  readonly burst?: number
}

/** The admin listener: metrics, stats and health on their own address. */
export interface EdgeAdminOptions {
  /** Port of the admin listener (0 = any free port). */
  readonly port?: number
  /** Address of the admin listener. Default `'127.0.0.1'` (loopback only). */
  readonly host?: string
}

/** One access log entry: what the edge did with one request. */
export interface AccessLogEntry {
  /** Epoch ms when the request arrived (edge clock). */
  readonly time: number
  readonly method: string
  /** The path, and the names of its query parameters without their values (`/search?q&token`): values may be secrets. */
  readonly path: string
  readonly status: number
  /** `X-Cache` outcome: HIT, MISS, STALE, REVALIDATED, COLLAPSED, PASS, ERROR, REJECTED, ADMIN. */
  readonly cache: string
  /** Body bytes sent. */
  readonly bytes: number
  /** From the request's arrival to the end of the response (or the connection's close), ms. */
  readonly durationMs: number
}

/** Options of {@link createEdge}. Validated once by {@link resolveEdgeOptions}. */
export interface EdgeOptions {
  /** The origin (or shield) base URL: `http://host:port`. Required. */
  origin: string | URL
  /** Cache behaviors in priority order. Default {@link DEFAULT_BEHAVIORS} (a CloudFront-style distribution). */
  behaviors?: readonly BehaviorOptions[]
  storage?: EdgeStorageOptions
  /** Responses larger than this are streamed through, never buffered or stored. Default 8 MiB. */
  maxObjectBytes?: number
  /** Invalidation bus: purges are published on it and every purge on it is applied here. */
  bus?: InvalidationBus
  /** Bearer token of the purge API. Without one the purge API refuses every request. */
  purgeToken?: string
  /** This node's id (bus origin, hop header, loop detection). Default random. */
  id?: string
  /** Device token for `Surrogate-Capability` / targeted `Surrogate-Control`. Default `'tiercache'`. */
  surrogateId?: string
  clock?: Clock
  logger?: Logger
  /** Time to wait for the origin's response headers. Default 30 s (CloudFront's OriginReadTimeout). */
  originTimeout?: Duration
  /** Consecutive origin failures that open the breaker. Default 5. */
  breakerThreshold?: number
  /** How long the origin breaker stays open before one probe. Default 5 s. */
  breakerCooldown?: Duration
  /** Max concurrent sockets to the origin. Default 256. */
  originMaxSockets?: number
  /** Request header section limit, bytes (larger requests get 431). Default 16 KiB. */
  maxHeaderBytes?: number
  /** Request-target limit, bytes (longer get 414). Default 8 KiB. */
  maxUrlBytes?: number
  /** Honour request `Cache-Control` (no-cache, max-age, min-fresh, max-stale, only-if-cached). Default false: clients cannot bypass the cache. */
  honorRequestCacheControl?: boolean
  /** How long a stale response with validators is kept for conditional revalidation. Default 1 day. */
  keepStale?: Duration
  /** After an uncacheable response, requests for that key skip collapsing for this long. Default 10 s. */
  hitForPass?: Duration
  /** Path prefix of the edge's own endpoints (purge, metrics, health). Default `'/.tiercache/'`. */
  adminPrefix?: string
  /** Serve Prometheus text at `<adminPrefix>metrics`. Default true. */
  metricsEndpoint?: boolean
  /** Publish the invalidations of §4.4 (unsafe methods) on the bus too. Default true. */
  publishUnsafeInvalidations?: boolean
  /** Add `X-Forwarded-For` to origin requests (the origin must not vary on it). Default false. */
  xForwardedFor?: boolean
  /** How long recent purges are remembered to fence fills that started before them. Default 30 s. */
  purgeFence?: Duration
  /**
   * Longest silence allowed between two chunks of an origin body (and before the first one). A
   * body that stalls longer is abandoned: a fill answers its waiters stale (stale-if-error) or
   * `504`, a streamed response is cut off. Default 10 s.
   */
  originBodyTimeout?: Duration
  /**
   * Most requests that may wait on one collapsed origin fetch; more get `503` + `Retry-After`, so
   * a stalled fill cannot pile up requests without bound. Default 1,000.
   */
  maxWaitersPerFill?: number
  /**
   * Shared secret of a shield chain (at least 16 characters). An edge sends an HMAC of its hop list
   * with it; the edge behind accepts `X-Tiercache-Hop` (and passes surrogate keys, `Cache-Tag` and
   * `Surrogate-Control` on) only from a request that proves it. Without it, hop headers from
   * clients are stripped and nobody gets those fields. Default none.
   */
  hopSecret?: string
  /** Limits of the purge API (body size, rate). */
  purge?: EdgePurgeOptions
  /**
   * A separate listener for metrics, stats and health (loopback by default), started by `listen()`.
   * On the public port those endpoints need the purge token. Default none.
   */
  admin?: EdgeAdminOptions
  /**
   * Access log: one entry per request (method, path without query values, status, cache outcome,
   * bytes, duration). `true` writes each through `logger.info(entry, 'edge access')` (one JSON line
   * with pino); a function receives each entry. Default false.
   */
  accessLog?: boolean | ((entry: AccessLogEntry) => void)
}

/** Where the defaults live; each is documented on its option. */
export const EDGE_DEFAULTS = {
  maxObjectBytes: 8 * 1024 * 1024,
  memoryMaxBytes: 256 * 1024 * 1024,
  redisL1MaxBytes: 16 * 1024 * 1024,
  redisTimeoutMs: 100,
  redisNamespace: 'edge',
  surrogateId: 'tiercache',
  originTimeoutMs: 30_000,
  breakerThreshold: 5,
  breakerCooldownMs: 5_000,
  originMaxSockets: 256,
  maxHeaderBytes: 16 * 1024,
  maxUrlBytes: 8 * 1024,
  keepStaleMs: 86_400_000,
  hitForPassMs: 10_000,
  adminPrefix: '/.tiercache/',
  purgeFenceMs: 30_000,
  maxTtlMs: BEHAVIOR_DEFAULTS.maxTtlMs,
  staleIfErrorMs: BEHAVIOR_DEFAULTS.staleIfErrorMs,
  redisBreakerThreshold: 5,
  redisBreakerCooldownMs: 2_000,
  originBodyTimeoutMs: 10_000,
  maxWaitersPerFill: 1_000,
  purgeMaxBodyBytes: 64 * 1024,
  purgeRatePerSecond: 100,
  purgeBurst: 200,
  adminHost: '127.0.0.1',
} as const

/** Every option after validation, defaults applied. */
export interface ResolvedEdgeOptions {
  readonly origin: URL
  readonly behaviors: readonly ResolvedBehavior[]
  readonly storage: EdgeStorageOptions
  readonly maxObjectBytes: number
  readonly bus: InvalidationBus | undefined
  readonly purgeToken: string | undefined
  readonly id: string
  readonly surrogateId: string
  readonly clock: Clock | undefined
  readonly logger: Logger | undefined
  readonly originTimeout: number
  readonly breakerThreshold: number
  readonly breakerCooldown: number
  readonly originMaxSockets: number
  readonly maxHeaderBytes: number
  readonly maxUrlBytes: number
  readonly honorRequestCacheControl: boolean
  readonly keepStale: number
  readonly hitForPass: number
  readonly adminPrefix: string
  readonly metricsEndpoint: boolean
  readonly publishUnsafeInvalidations: boolean
  readonly xForwardedFor: boolean
  readonly purgeFence: number
  readonly originBodyTimeout: number
  readonly maxWaitersPerFill: number
  readonly hopSecret: string | undefined
  readonly purge: { readonly maxBodyBytes: number; readonly ratePerSecond: number; readonly burst: number }
  /** Undefined when no admin listener is configured. */
  readonly admin: { readonly port: number; readonly host: string } | undefined
  readonly accessLog: false | true | ((entry: AccessLogEntry) => void)
}

const OPTION_KEYS: readonly string[] = [
  'origin', 'behaviors', 'storage', 'maxObjectBytes', 'bus', 'purgeToken', 'id', 'surrogateId', 'clock', 'logger', 'originTimeout',
  'breakerThreshold', 'breakerCooldown', 'originMaxSockets', 'maxHeaderBytes', 'maxUrlBytes', 'honorRequestCacheControl', 'keepStale',
  'hitForPass', 'adminPrefix', 'metricsEndpoint', 'publishUnsafeInvalidations', 'xForwardedFor', 'purgeFence', 'originBodyTimeout',
  'maxWaitersPerFill', 'hopSecret', 'purge', 'admin', 'accessLog',
]
const MEMORY_STORAGE_KEYS: readonly string[] = ['type', 'maxBytes', 'policy']
const REDIS_STORAGE_KEYS: readonly string[] = ['type', 'redis', 'cluster', 'client', 'namespace', 'l1MaxBytes', 'timeout', 'breakerThreshold', 'breakerCooldown']
const PURGE_KEYS: readonly string[] = ['maxBodyBytes', 'ratePerSecond', 'burst']
const ADMIN_KEYS: readonly string[] = ['port', 'host']

/** Validates every option once; errors name the option, what was expected and what arrived. */
export function resolveEdgeOptions(options: EdgeOptions): ResolvedEdgeOptions {
  if (typeof options !== 'object' || (options as unknown) === null) throw new InvalidOptionError('options', 'an object', options)
  refuseUnknownKeys(options, OPTION_KEYS, '')
  let origin: URL
  try {
    origin = options.origin instanceof URL ? options.origin : new URL(String(options.origin))
  } catch {
    throw new InvalidOptionError('origin', 'an http(s) URL such as "http://127.0.0.1:3000"', options.origin)
  }
  if ((origin.protocol !== 'http:' && origin.protocol !== 'https:') || origin.search !== '' || origin.hash !== '') {
    throw new InvalidOptionError('origin', 'an http(s) URL without query or fragment', options.origin)
  }
  const behaviorInput = options.behaviors ?? DEFAULT_BEHAVIORS
  if (!Array.isArray(behaviorInput)) throw new InvalidOptionError('behaviors', 'an array of behaviors', behaviorInput)
  const behaviors = (behaviorInput as readonly unknown[]).map((b, i) => resolveBehavior(b, `behaviors[${i}]`))
  const defaultIndex = behaviors.findIndex((b) => b.pathPattern === '*')
  if (defaultIndex !== -1 && defaultIndex !== behaviors.length - 1) {
    throw new InvalidOptionError(`behaviors[${defaultIndex}].pathPattern`, "'*' only on the last behavior (it matches everything)", '*')
  }
  if (defaultIndex === -1) behaviors.push(resolveBehavior(DEFAULT_BEHAVIORS[DEFAULT_BEHAVIORS.length - 1], 'default behavior'))
  const storage = options.storage ?? { type: 'memory' }
  if (typeof storage !== 'object' || (storage.type !== undefined && storage.type !== 'memory' && storage.type !== 'redis')) {
    throw new InvalidOptionError('storage.type', "'memory' or 'redis'", (storage as { type?: unknown }).type)
  }
  refuseUnknownKeys(storage, storage.type === 'redis' ? REDIS_STORAGE_KEYS : MEMORY_STORAGE_KEYS, 'storage')
  if (storage.type === 'redis') {
    positiveInt(storage.l1MaxBytes, 'storage.l1MaxBytes', 1)
    if (storage.timeout !== undefined) parseDuration(storage.timeout, 'storage.timeout')
    positiveInt(storage.breakerThreshold, 'storage.breakerThreshold', 1)
    if (storage.breakerCooldown !== undefined) parseDuration(storage.breakerCooldown, 'storage.breakerCooldown')
  } else {
    positiveInt(storage.maxBytes, 'storage.maxBytes', 1)
    if (storage.policy !== undefined && !L1_POLICIES.includes(storage.policy)) {
      throw new InvalidOptionError('storage.policy', L1_POLICIES.map((p) => `'${p}'`).join(' or '), storage.policy)
    }
  }
  const maxObjectBytes = positiveInt(options.maxObjectBytes, 'maxObjectBytes', EDGE_DEFAULTS.maxObjectBytes)
  const purgeToken = options.purgeToken
  if (purgeToken !== undefined && (typeof purgeToken !== 'string' || purgeToken.length < 16)) {
    throw new InvalidOptionError('purgeToken', 'a string of at least 16 characters', purgeToken === undefined ? undefined : `${typeof purgeToken} (hidden)`)
  }
  const id = options.id ?? `edge-${Math.random().toString(36).slice(2, 10)}`
  if (typeof id !== 'string' || !TOKEN.test(id)) throw new InvalidOptionError('id', 'a token (letters, digits, -._~)', id)
  const surrogateId = options.surrogateId ?? EDGE_DEFAULTS.surrogateId
  if (typeof surrogateId !== 'string' || !TOKEN.test(surrogateId)) throw new InvalidOptionError('surrogateId', 'a token', surrogateId)
  const adminPrefix = options.adminPrefix ?? EDGE_DEFAULTS.adminPrefix
  if (typeof adminPrefix !== 'string' || !/^\/[^?#]*\/$/.test(adminPrefix)) {
    throw new InvalidOptionError('adminPrefix', "a path starting and ending with '/'", adminPrefix)
  }
  const bus = options.bus
  if (bus !== undefined && (typeof bus !== 'object' || typeof (bus as { publish?: unknown }).publish !== 'function')) {
    throw new InvalidOptionError('bus', 'an InvalidationBus', describe(bus))
  }
  const hopSecret = options.hopSecret
  if (hopSecret !== undefined && (typeof hopSecret !== 'string' || hopSecret.length < 16)) {
    throw new InvalidOptionError('hopSecret', 'a string of at least 16 characters', `${typeof hopSecret} (hidden)`)
  }
  const purgeInput = objectOption(options.purge, 'purge') ?? {}
  refuseUnknownKeys(purgeInput, PURGE_KEYS, 'purge')
  const purge = Object.freeze({
    maxBodyBytes: positiveInt(purgeInput.maxBodyBytes, 'purge.maxBodyBytes', EDGE_DEFAULTS.purgeMaxBodyBytes),
    ratePerSecond: positiveInt(purgeInput.ratePerSecond, 'purge.ratePerSecond', EDGE_DEFAULTS.purgeRatePerSecond),
    burst: positiveInt(purgeInput.burst, 'purge.burst', EDGE_DEFAULTS.purgeBurst),
  })
  const adminInput = objectOption(options.admin, 'admin')
  let admin: { port: number; host: string } | undefined
  if (adminInput !== undefined) {
    refuseUnknownKeys(adminInput, ADMIN_KEYS, 'admin')
    const port = adminInput.port ?? 0
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionError('admin.port', 'an integer 0..65535', port)
    const host = adminInput.host ?? EDGE_DEFAULTS.adminHost
    if (typeof host !== 'string' || host === '') throw new InvalidOptionError('admin.host', 'a listen address such as "127.0.0.1"', host)
    admin = Object.freeze({ port, host })
  }
  const accessLog = options.accessLog ?? false
  if (typeof accessLog !== 'boolean' && typeof accessLog !== 'function') throw new InvalidOptionError('accessLog', 'a boolean or a function', accessLog)
  return Object.freeze({
    origin,
    behaviors: Object.freeze(behaviors),
    storage,
    maxObjectBytes,
    bus,
    purgeToken,
    id,
    surrogateId,
    clock: options.clock,
    logger: options.logger,
    originTimeout: duration(options.originTimeout, 'originTimeout', EDGE_DEFAULTS.originTimeoutMs),
    breakerThreshold: positiveInt(options.breakerThreshold, 'breakerThreshold', EDGE_DEFAULTS.breakerThreshold),
    breakerCooldown: duration(options.breakerCooldown, 'breakerCooldown', EDGE_DEFAULTS.breakerCooldownMs),
    originMaxSockets: positiveInt(options.originMaxSockets, 'originMaxSockets', EDGE_DEFAULTS.originMaxSockets),
    maxHeaderBytes: positiveInt(options.maxHeaderBytes, 'maxHeaderBytes', EDGE_DEFAULTS.maxHeaderBytes),
    maxUrlBytes: positiveInt(options.maxUrlBytes, 'maxUrlBytes', EDGE_DEFAULTS.maxUrlBytes),
    honorRequestCacheControl: bool(options.honorRequestCacheControl, 'honorRequestCacheControl', false),
    keepStale: duration(options.keepStale, 'keepStale', EDGE_DEFAULTS.keepStaleMs),
    hitForPass: duration(options.hitForPass, 'hitForPass', EDGE_DEFAULTS.hitForPassMs),
    adminPrefix,
    metricsEndpoint: bool(options.metricsEndpoint, 'metricsEndpoint', true),
    publishUnsafeInvalidations: bool(options.publishUnsafeInvalidations, 'publishUnsafeInvalidations', true),
    xForwardedFor: bool(options.xForwardedFor, 'xForwardedFor', false),
    purgeFence: duration(options.purgeFence, 'purgeFence', EDGE_DEFAULTS.purgeFenceMs),
    originBodyTimeout: duration(options.originBodyTimeout, 'originBodyTimeout', EDGE_DEFAULTS.originBodyTimeoutMs),
    maxWaitersPerFill: positiveInt(options.maxWaitersPerFill, 'maxWaitersPerFill', EDGE_DEFAULTS.maxWaitersPerFill),
    hopSecret,
    purge,
    admin,
    accessLog,
  })
}
