import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import { TierGuard } from '../core/tier-guard.js'
import type { RedisSource } from '../redis/connection.js'
import { isCommandRejection } from '../redis/connection.js'
import { RedisStore } from '../redis/redis-store.js'
import type { EdgeStorage, EdgeStorageStats, PurgeSelector } from './edge-storage.js'
import { recordEntry } from './edge-storage.js'
import type { MemoryStorage } from './memory-storage.js'
import type { EdgeRecord } from './stored-response.js'
import { edgeRecordSerializer } from './stored-response.js'

/** Options of {@link RedisStorage}. */
export interface RedisStorageOptions extends RedisSource {
  readonly namespace: string
  readonly clock: Clock
  readonly timeoutMs: number
  /** Consecutive failures that open the breaker, and how long it stays open. */
  readonly breakerThreshold: number
  readonly breakerCooldownMs: number
  readonly logger: Logger
  /** Optional in-process tier in front (kept coherent by the bus). */
  readonly l1?: MemoryStorage | undefined
}

/**
 * Shared storage on Redis: several edge processes share one cache. Records are stored with the
 * entry envelope of `RedisStore` and the binary edge record serializer (bodies stay bytes). Each
 * tag and each URL has an index set (`tc1:<ns>:t:{tag}`, `tc1:<ns>:u:{url}`) listing the keys
 * that carry it; sets expire with their last member.
 *
 * A failing Redis degrades to misses: every call goes through the core's {@link TierGuard} (a
 * time budget, a circuit breaker, a log line per state change), as a thunk, so an open breaker sends
 * nothing to Redis and a call that throws synchronously (a client that lost its connection) is a
 * miss like any other failure, never an error for a request.
 */
export class RedisStorage implements EdgeStorage {
  readonly type = 'redis'
  readonly store: RedisStore
  readonly #clock: Clock
  readonly #guard: TierGuard
  readonly #l1: MemoryStorage | undefined
  readonly #tagPrefix: string
  readonly #urlPrefix: string

  constructor(options: RedisStorageOptions) {
    this.store = new RedisStore({
      ...(options.redis === undefined ? {} : { redis: options.redis }),
      ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
      ...(options.client === undefined ? {} : { client: options.client }),
      namespace: options.namespace,
      serializer: edgeRecordSerializer,
      clock: options.clock,
    })
    this.#clock = options.clock
    this.#l1 = options.l1
    this.#tagPrefix = `${this.store.keys.prefix}t:{`
    this.#urlPrefix = `${this.store.keys.prefix}u:{`
    this.#guard = new TierGuard('edge storage (Redis)', {
      timeoutMs: options.timeoutMs,
      threshold: options.breakerThreshold,
      cooldownMs: options.breakerCooldownMs,
      clock: options.clock,
      logger: options.logger,
      // An error reply to one command (a key of the wrong type, a script error) says Redis is up:
      // it must not turn the shared storage off for every request, as it does not for the cache's L2.
      isRejection: isCommandRejection,
    })
  }

  get(key: string): EdgeRecord | undefined | Promise<EdgeRecord | undefined> {
    const local = this.#l1?.get(key)
    if (local !== undefined) return local
    return this.#guard.run(() => this.store.get(key), undefined).then((entry) => {
      const record = entry?.value as EdgeRecord | undefined
      if (record !== undefined && this.#l1 !== undefined) this.#l1.set(key, record)
      return record
    })
  }

  async set(key: string, record: EdgeRecord): Promise<void> {
    this.#l1?.set(key, record)
    const now = this.#clock.now()
    const ttl = Math.ceil(record.staleUntil - now)
    if (ttl <= 0) return
    const client = this.store.client
    await this.#guard.run(async () => {
      await this.store.set(key, recordEntry(record, now))
      const indexes = [this.#urlPrefix + record.url + '}']
      if (record.kind === 'response') for (const tag of record.tags) indexes.push(this.#tagPrefix + tag + '}')
      await Promise.all(indexes.map(async (index) => {
        await client.sadd(index, key)
        // NX sets a TTL on a new set, GT extends it: a set lives as long as its longest member.
        await client.pexpire(index, ttl, 'NX')
        await client.pexpire(index, ttl, 'GT')
      }))
    }, undefined)
  }

  async delete(key: string): Promise<void> {
    this.#l1?.delete(key)
    await this.#guard.run(() => this.store.delete(key), false)
  }

  async purge(selector: PurgeSelector, soft: boolean, now: number): Promise<number> {
    const local = (await this.#l1?.purge(selector, soft, now)) ?? 0
    const shared = await this.#guard.run(() => this.#purgeShared(selector, soft, now), 0)
    return Math.max(local, shared)
  }

  stats(): EdgeStorageStats {
    const l1 = this.#l1?.stats()
    return {
      type: 'redis', entries: l1?.entries ?? 0, bytes: l1?.bytes ?? 0, maxBytes: l1?.maxBytes ?? 0, evictions: l1?.evictions ?? 0,
      errors: this.#guard.stats.errors, skipped: this.#guard.stats.skipped, breaker: this.#guard.breakerState,
    }
  }

  async close(): Promise<void> {
    this.#guard.close()
    await this.#l1?.close()
    await this.store.close()
  }

  async #purgeShared(selector: PurgeSelector, soft: boolean, now: number): Promise<number> {
    const client = this.store.client
    if (selector.all === true) {
      await this.store.clear()
      return 1
    }
    const indexes: string[] = []
    for (const tag of selector.tags ?? []) indexes.push(this.#tagPrefix + tag + '}')
    for (const url of selector.urls ?? []) indexes.push(this.#urlPrefix + url + '}')
    for (const prefix of selector.prefixes ?? []) indexes.push(...await this.#scanUrlIndexes(prefix))
    const keys = new Set<string>()
    for (const members of await Promise.all(indexes.map((index) => client.smembers(index)))) for (const k of members) keys.add(k)
    if (!soft) {
      await this.store.deleteMany([...keys])
      await Promise.all(indexes.map((index) => client.srem(index, ...keys).catch(() => 0)))
      return keys.size
    }
    let n = 0
    await Promise.all([...keys].map(async (key) => {
      const entry = await this.store.get(key)
      const record = entry?.value as EdgeRecord | undefined
      if (record?.kind !== 'response') return
      n++
      if (record.freshUntil > now) await this.store.set(key, recordEntry(record.with({ invalidatedAt: now }), now))
    }))
    return n
  }

  async #scanUrlIndexes(prefix: string): Promise<string[]> {
    const pattern = `${escapeGlob(this.#urlPrefix + prefix)}*`
    const client = this.store.client
    const nodes = (client as { isCluster?: boolean }).isCluster === true
      ? (client as unknown as { nodes(role: string): typeof client[] }).nodes('master')
      : [client]
    const found: string[] = []
    await Promise.all(nodes.map(async (node) => {
      let cursor = '0'
      do {
        const [next, keys] = await (node as unknown as { scan(c: string, ...a: (string | number)[]): Promise<[string, string[]]> })
          .scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        found.push(...keys)
      } while (cursor !== '0')
    }))
    return found
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}
