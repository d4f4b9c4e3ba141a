import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import { assertKnownKeys } from '../core/call-options.js'
import { L2Error } from '../core/errors.js'
import { loadIoredis } from './ioredis.js'

/** A client tiercache can talk to: ioredis standalone or Cluster. */
export type RedisClient = Redis | Cluster

/** Where to connect: exactly one of these. */
export interface RedisSource {
  /** URL or ioredis options; tiercache owns the connection. */
  redis?: string | RedisOptions
  /** Cluster seed nodes; tiercache owns the connection. */
  cluster?: readonly { host: string; port: number }[]
  /** A client you own; tiercache never closes it. */
  client?: unknown
}

/**
 * Connection settings for a cache, not a queue. Every one of these exists because the ioredis
 * default is right for a job queue and wrong here:
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of queueing,
 *   so requests fall back to L1/the loader and nothing old runs later against a newer state;
 * - `autoResendUnfulfilledCommands: false` and `maxRetriesPerRequest: 0`: a SET sent before a
 *   disconnect is not replayed after it (it could overwrite a later delete);
 * - no auto-pipelining: the store coalesces the writes of one tick itself, by corking the socket
 *   (write-coalescer.ts), which measured faster than ioredis's Pipeline object per tick on the L2
 *   hit path (bench/core.ts). `getMany` on a Cluster builds its own per-node pipelines, so it stays
 *   one round trip per node;
 * - reconnection forever with capped back-off: when Redis comes back, L2 is used again.
 */
export const CACHE_CONNECTION_DEFAULTS = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  enableAutoPipelining: false,
  connectTimeout: 2_000,
  retryStrategy: (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
} as const

/**
 * Options tiercache knows ioredis accepts beyond its defaults object (connection target, auth,
 * TLS, timeouts). A key outside these and ioredis's own defaults is refused: a typo such as `hots`
 * would otherwise connect to localhost:6379 without a word.
 */
const EXTRA_REDIS_OPTIONS = ['host', 'port', 'path', 'tls', 'username', 'password', 'db', 'commandTimeout', 'socketTimeout', 'blockingTimeout',
  'sentinelUsername', 'sentinelPassword', 'sentinelTLS', 'sentinelCommandTimeout', 'preferredSlaves', 'keepAlive', 'noDelay']

/** Opens (or adopts) a client. `owned` tells whether tiercache must close it. */
export function connect(source: RedisSource): { client: RedisClient; owned: boolean } {
  if (source.client !== undefined) return { client: source.client as RedisClient, owned: false }
  const { Cluster, Redis } = loadIoredis()
  if (source.cluster !== undefined) {
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      clusterRetryStrategy: CACHE_CONNECTION_DEFAULTS.retryStrategy,
      redisOptions: { ...CACHE_CONNECTION_DEFAULTS },
    }
    return { client: new Cluster(source.cluster.map((n) => ({ host: n.host, port: n.port })), options), owned: true }
  }
  const redis = source.redis ?? 'redis://127.0.0.1:6379'
  if (typeof redis !== 'string') {
    const known = new Set([...Object.keys(loadRedisDefaults()), ...EXTRA_REDIS_OPTIONS])
    assertKnownKeys(redis as unknown as Record<string, unknown>, known, 'l2.redis.')
  }
  const client = typeof redis === 'string'
    ? new Redis(redis, { ...CACHE_CONNECTION_DEFAULTS })
    : new Redis({ ...CACHE_CONNECTION_DEFAULTS, ...(redis) })
  return { client, owned: true }
}

/** ioredis's default options object: its keys are the options it knows. */
function loadRedisDefaults(): Record<string, unknown> {
  const { Redis } = loadIoredis()
  return (Redis as unknown as { defaultOptions?: Record<string, unknown> }).defaultOptions ?? {}
}

/** True for an ioredis Cluster client. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

/** How long a connection that was accepted may take to answer its handshake by default. */
export const DEFAULT_HANDSHAKE_MS = 1_000

/**
 * What tiercache knows of a client's connection, shared by every user of the client (the store,
 * the bus). Three states:
 * - `connecting`: the first attempt is under way; commands wait for it (callers bound the wait);
 * - `ready`: commands go;
 * - `down`: refused, lost, or accepted without answering the handshake within its budget (a hung
 *   server still completes TCP handshakes): commands fail at once with the cause, so a guard falls
 *   back without waiting out a timeout per call. ioredis keeps reconnecting; `ready` again when it does.
 */
export class Readiness {
  readonly #client: RedisClient
  readonly #handshakeMs: number
  #state: 'connecting' | 'ready' | 'down'
  #cause = ''
  #handshake: NodeJS.Timeout | undefined
  readonly #first: Promise<boolean>
  #settleFirst: ((ok: boolean) => void) | undefined
  #initial: Promise<void> | undefined
  #failInitial: ((error: Error) => void) | undefined

  /** The one Readiness of `client` (created on first use). */
  static of(client: RedisClient, handshakeMs = DEFAULT_HANDSHAKE_MS): Readiness {
    let readiness = READINESS.get(client)
    if (readiness === undefined) {
      readiness = new Readiness(client, handshakeMs)
      READINESS.set(client, readiness)
    }
    return readiness
  }

  private constructor(client: RedisClient, handshakeMs: number) {
    this.#client = client
    this.#handshakeMs = handshakeMs
    this.#first = new Promise<boolean>((resolve) => { this.#settleFirst = resolve })
    if (client.status === 'ready') {
      this.#state = 'ready'
      this.#settle(true)
    } else {
      this.#state = 'connecting'
      this.#initial = new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve())
        this.#failInitial = reject
      })
      this.#initial.catch(() => {})
      // Already connected at the TCP level (a client handed over mid-handshake): start the budget now.
      if (client.status === 'connect') this.#armHandshake()
    }
    client.on('connect', () => { if (this.#state !== 'ready') this.#armHandshake() })
    client.on('ready', () => {
      clearTimeout(this.#handshake)
      this.#state = 'ready'
      this.#cause = ''
      this.#initial = undefined
      this.#settle(true)
    })
    // An owned client emits 'error' on every failed reconnect: consumed here (not an unhandled
    // crash), and kept as the cause that logs and errors name.
    client.on('error', (error: Error) => {
      this.#cause = error.message
      if (client.status !== 'ready') this.#down(error.message)
    })
    client.on('close', () => { if (this.#state === 'ready') this.#down(this.#cause || 'connection closed') })
    client.on('end', () => this.#down(this.#cause || 'connection closed for good'))
  }

  /** Settles once the first connection attempt is over: true when ready, false when known down. */
  whenConnected(): Promise<boolean> {
    return this.#first
  }

  /** Why the connection is down (the last error), or '' when it is not. */
  get cause(): string {
    return this.#state === 'ready' ? '' : this.#cause
  }

  /** Resolves true once ready, false after `timeoutMs` or when the first attempt failed. */
  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#client.status === 'ready') return true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
    try {
      return await Promise.race([this.#first, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Undefined when ready now; a promise while the first connection is being made (callers bound
   * the wait); throws `E_L2_UNAVAILABLE` with the cause when known down.
   */
  check(): Promise<void> | undefined {
    if (this.#client.status === 'ready') {
      // Between the socket closing and ioredis noticing, the status still says ready: name the
      // real cause instead of ioredis's "Stream isn't writeable".
      if (this.#stream?.writable === false) throw new L2Error('E_L2_UNAVAILABLE', 'Redis is not connected: the connection closed', { tier: 'L2' })
      return undefined
    }
    if (this.#state === 'connecting' && this.#initial !== undefined) return this.#initial
    throw new L2Error('E_L2_UNAVAILABLE', `Redis is not connected: ${this.#cause || `status ${this.#client.status}`}`, { tier: 'L2' })
  }

  /** The standalone client's socket (a Cluster has one per node, and checks them itself). */
  get #stream(): { writable: boolean } | undefined {
    return (this.#client as { stream?: { writable: boolean } }).stream
  }

  #armHandshake(): void {
    clearTimeout(this.#handshake)
    this.#handshake = setTimeout(() => {
      // Decide after the I/O phase: a process busy starting up runs this timer late, and the
      // answer may already be waiting in the socket; a late timer must not win over it.
      setImmediate(() => {
        if (this.#client.status !== 'ready' && this.#state !== 'down') this.#down(`Redis accepted the connection but did not answer within ${this.#handshakeMs}ms`)
      })
    }, this.#handshakeMs)
    this.#handshake.unref()
  }

  #down(cause: string): void {
    clearTimeout(this.#handshake)
    this.#cause = cause
    this.#state = 'down'
    this.#failInitial?.(new L2Error('E_L2_UNAVAILABLE', `Redis is not connected: ${cause}`, { tier: 'L2' }))
    this.#failInitial = undefined
    this.#initial = undefined
    this.#settle(false)
  }

  #settle(ok: boolean): void {
    this.#settleFirst?.(ok)
    this.#settleFirst = undefined
  }
}

const READINESS = new WeakMap<RedisClient, Readiness>()

/**
 * Error replies that describe the server's state, not the command: Redis (or the cluster) cannot
 * serve now, so these do count against the breaker.
 */
const SERVER_STATE_REPLIES = /^(CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|TRYAGAIN|BUSY|NOREPLICAS|OOM|MISCONF|NOAUTH|WRONGPASS|NOPERM)\b/

/**
 * True for an error Redis sent back as a reply to that one command (`ERR ...`, `WRONGTYPE`, a
 * script error): Redis is up and refused the command. The guard does not hold these against the
 * breaker, so one bad call cannot turn the shared tier off for the process.
 */
export function isCommandRejection(error: unknown): boolean {
  const e = error as { name?: unknown; message?: unknown } | undefined
  return e?.name === 'ReplyError' && typeof e.message === 'string' && !SERVER_STATE_REPLIES.test(e.message)
}
