import { Cluster, Redis } from 'ioredis'
import type { ClusterOptions, RedisOptions } from 'ioredis'

/** A client tiercache can talk to: ioredis standalone or Cluster. */
export type RedisClient = Redis | Cluster

/** Where to connect: exactly one of these. */
export interface RedisSource {
  /** URL or ioredis options; tiercache owns the connection. */
  redis?: string | RedisOptions | Record<string, unknown>
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

/** Opens (or adopts) a client. `owned` tells whether tiercache must close it. */
export function connect(source: RedisSource): { client: RedisClient; owned: boolean } {
  if (source.client !== undefined) return { client: source.client as RedisClient, owned: false }
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
  const client = typeof redis === 'string'
    ? new Redis(redis, { ...CACHE_CONNECTION_DEFAULTS })
    : new Redis({ ...CACHE_CONNECTION_DEFAULTS, ...(redis as RedisOptions) })
  return { client, owned: true }
}

/** True for an ioredis Cluster client. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

/**
 * Resolves when the client is ready, for the first connection only. After the client has been
 * ready once, a client that is not ready is down: callers fail fast (and the guard falls back)
 * instead of queueing behind a reconnect.
 */
export class Readiness {
  readonly #client: RedisClient
  #initial: Promise<void> | undefined
  #everReady = false

  constructor(client: RedisClient) {
    this.#client = client
    if (client.status === 'ready') {
      this.#everReady = true
    } else {
      this.#initial = new Promise<void>((resolve, reject) => {
        const onReady = (): void => {
          this.#everReady = true
          this.#initial = undefined
          client.off('end', onEnd)
          resolve()
        }
        const onEnd = (): void => {
          client.off('ready', onReady)
          reject(new Error('Redis connection ended before it was ready'))
        }
        client.once('ready', onReady)
        client.once('end', onEnd)
      })
      this.#initial.catch(() => {})
    }
    // An owned client emits 'error' on every failed reconnect; the guard reports state changes,
    // so the events are consumed here instead of crashing the process as unhandled.
    if (client.listenerCount('error') === 0) client.on('error', () => {})
  }

  /** Resolves true once ready, false after `timeoutMs` (or when the client ended first). */
  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#client.status === 'ready') return true
    if (this.#initial === undefined) return false
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
    try {
      return await Promise.race([this.#initial.then(() => true, () => false), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Undefined when ready now; a promise while the first connection is being made; throws when down. */
  check(): Promise<void> | undefined {
    if (this.#client.status === 'ready') return undefined
    if (!this.#everReady && this.#initial !== undefined) return this.#initial
    throw new Error(`Redis is not connected (status ${this.#client.status})`)
  }
}
