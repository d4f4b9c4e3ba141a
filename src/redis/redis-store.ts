import calculateSlot from 'cluster-key-slot'
import type { Cluster } from 'ioredis'
import type { Clock } from '../ports/clock.js'
import { systemClock } from '../core/clock.js'
import type { CacheEntry } from '../ports/entry.js'
import { isTierCacheError } from '../core/errors.js'
import type { Serializer } from '../core/serializer.js'
import { jsonSerializer } from '../core/serializer.js'
import type { CoherentStore, FillResult, LeaseRead } from '../ports/coherent-store.js'
import type { Connecting } from '../ports/connecting.js'
import type { LockStore } from '../ports/lock-store.js'
import type { PrefixCursor, PrefixStep, PrefixStore } from '../ports/prefix-store.js'
import type { CommitResult, WriteFenceStore } from '../ports/write-fence.js'
import type { RedisClient, RedisSource } from './connection.js'
import { Readiness, connect, isCluster } from './connection.js'
import { decodeEntry, encodeEntry } from './envelope.js'
import { RedisKeys } from './keys.js'
import { deletePrefixStep } from './prefix-scan.js'
import { WriteCoalescer } from './write-coalescer.js'
import type { ScriptCommands } from './scripts.js'
import { withScripts } from './scripts.js'

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions extends RedisSource {
  /** Key prefix; must match the cache's namespace. Default `'default'`. */
  namespace?: string
  serializer?: Serializer
  clock?: Clock
  /**
   * How long a connection Redis accepted may take to answer its handshake before it counts as
   * down (a hung server still accepts TCP connections). Default 1 s; the cache passes `l2.timeout`.
   */
  handshakeTimeout?: number
}

/**
 * The L2 store on Redis (standalone or Cluster). Entries are stored in the versioned envelope
 * (see envelope.ts) with a Redis TTL equal to their `staleUntil`. Calls reject when Redis fails;
 * the cache's guard turns that into a fallback, so nothing here retries or swallows.
 */
export class RedisStore implements CoherentStore, LockStore, WriteFenceStore, PrefixStore, Connecting {
  readonly name: string
  readonly client: RedisClient & ScriptCommands
  readonly keys: RedisKeys
  readonly #owned: boolean
  readonly #serializer: Serializer
  readonly #clock: Clock
  readonly #readiness: Readiness
  readonly #cluster: boolean
  readonly #coalescer: WriteCoalescer
  #corrupt = 0

  constructor(options: RedisStoreOptions = {}) {
    const { client, owned } = connect(options)
    this.client = withScripts(client)
    this.#owned = owned
    this.#cluster = isCluster(client)
    this.name = this.#cluster ? 'redis-cluster' : 'redis'
    this.keys = new RedisKeys(options.namespace ?? 'default')
    this.#serializer = options.serializer ?? jsonSerializer
    this.#clock = options.clock ?? systemClock
    this.#readiness = Readiness.of(client, options.handshakeTimeout)
    this.#coalescer = new WriteCoalescer(client)
  }

  /** Resolves true once connected, false if that takes longer than `timeoutMs` or the connection failed. */
  ready(timeoutMs: number): Promise<boolean> {
    return this.#readiness.wait(timeoutMs)
  }

  /** Settles once the first connection attempt is over: true when connected, false when refused or unanswered. */
  whenConnected(): Promise<boolean> {
    return this.#readiness.whenConnected()
  }

  get(key: string): Promise<CacheEntry | undefined> {
    const waiting = this.#begin()
    if (waiting !== undefined) return waiting.then(() => this.get(key))
    const redisKey = this.keys.entry(key)
    return this.client.getBuffer(redisKey).then((buf) => (buf === null ? undefined : this.#decode(redisKey, buf)))
  }

  async getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    await this.#begin()
    if (keys.length === 0) return []
    const redisKeys = keys.map((key) => this.keys.entry(key))
    if (!this.#cluster) {
      const bufs = await this.client.mgetBuffer(...redisKeys)
      return bufs.map((buf, i) => (buf === null ? undefined : this.#decode(redisKeys[i] as string, buf)))
    }
    // MGET must stay inside one slot. Keys are grouped by slot, slots by the node serving them,
    // and each node gets one pipeline of MGETs: one round trip per node.
    const cluster = this.client as Cluster
    const bySlot = new Map<number, number[]>()
    for (let i = 0; i < redisKeys.length; i++) {
      const slot = calculateSlot(redisKeys[i] as string)
      const group = bySlot.get(slot)
      if (group === undefined) bySlot.set(slot, [i])
      else group.push(i)
    }
    const byNode = new Map<string, number[][]>()
    for (const [slot, indexes] of bySlot) {
      const node = (cluster.slots[slot])?.[0] ?? `slot:${slot}`
      const groups = byNode.get(node)
      if (groups === undefined) byNode.set(node, [indexes])
      else groups.push(indexes)
    }
    const out = new Array<CacheEntry | undefined>(keys.length)
    await Promise.all([...byNode.values()].map(async (groups) => {
      const pipeline = cluster.pipeline()
      for (const indexes of groups) pipeline.mgetBuffer(...indexes.map((i) => redisKeys[i] as string))
      const results = await pipeline.exec()
      if (results === null) throw new Error('pipeline aborted')
      results.forEach(([error, bufs], g) => {
        if (error !== null) throw error
        const indexes = groups[g] as number[]
        ;(bufs as (Buffer | null)[]).forEach((buf, j) => {
          const i = indexes[j] as number
          out[i] = buf === null ? undefined : this.#decode(redisKeys[i] as string, buf)
        })
      })
    }))
    return out
  }

  async set(key: string, entry: CacheEntry): Promise<void> {
    await this.#begin()
    const redisKey = this.keys.entry(key)
    const ttl = Math.ceil(entry.staleUntil - this.#clock.now())
    if (ttl <= 0) {
      await this.client.del(redisKey)
      return
    }
    await this.client.set(redisKey, encodeEntry(entry, this.#serializer), 'PX', ttl)
  }

  async setMany(entries: readonly (readonly [key: string, entry: CacheEntry])[]): Promise<void> {
    await this.#begin()
    if (entries.length === 0) return
    const now = this.#clock.now()
    // Plain commands, not a pipeline object: the write coalescer already sends the commands of one
    // tick in one write per node, and a Cluster pipeline would refuse keys spread over several nodes.
    await Promise.all(entries.map(([key, entry]) => {
      const redisKey = this.keys.entry(key)
      const ttl = Math.ceil(entry.staleUntil - now)
      return ttl <= 0 ? this.client.del(redisKey) : this.client.set(redisKey, encodeEntry(entry, this.#serializer), 'PX', ttl)
    }))
  }

  async delete(key: string): Promise<boolean> {
    await this.#begin()
    return (await this.client.del(this.keys.entry(key))) > 0
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    await this.#begin()
    if (keys.length === 0) return 0
    // DEL with several keys must stay inside one slot on a Cluster: one DEL per key, pipelined.
    const counts = await Promise.all(keys.map((key) => this.client.del(this.keys.entry(key))))
    return counts.reduce((a, b) => a + b, 0)
  }

  /**
   * Removes every key of this namespace with SCAN + UNLINK, on every master of a Cluster. O(keys in
   * Redis): an administrative operation, never part of serving traffic.
   */
  async clear(): Promise<void> {
    await this.#begin()
    const pattern = `${this.keys.prefix}*`
    const nodes = this.#cluster ? (this.client as Cluster).nodes('master') : [this.client]
    await Promise.all(nodes.map(async (node) => {
      let cursor = '0'
      do {
        const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        // UNLINK one key per command: on a Cluster the keys of one node span many slots.
        if (found.length > 0) await Promise.all(found.map((k) => node.unlink(k)))
      } while (cursor !== '0')
    }))
  }

  /** Closes an owned connection: QUIT when Redis answers, else (or after 1 s) a plain disconnect. */
  async close(): Promise<void> {
    if (!this.#owned || this.client.status === 'end') return
    if (this.client.status !== 'ready') {
      this.client.disconnect()
      return
    }
    let timer: NodeJS.Timeout | undefined
    const gaveUp = new Promise<void>((resolve) => { timer = setTimeout(resolve, 1_000) })
    await Promise.race([this.client.quit().catch(() => {}), gaveUp])
    clearTimeout(timer)
    this.client.disconnect()
  }

  async readForFill(key: string, token: string, leaseMs: number, now: number, force: boolean): Promise<LeaseRead> {
    await this.#begin()
    const entryKey = this.keys.entry(key)
    const [status, buf] = await this.client.tcReadForFillBuffer(entryKey, this.keys.lease(key), now, token, leaseMs, force ? '1' : '0')
    const entry = buf === undefined || buf === null ? undefined : this.#decode(entryKey, buf)
    if (status === 0 && entry !== undefined) return { status: 'fresh', entry }
    // A fresh-looking entry that does not decode is treated as missing: take the lease.
    if (status === 0) return this.readForFill(key, token, leaseMs, now, true)
    return { status: status === 1 ? 'acquired' : 'held', entry }
  }

  async fillWithLease(key: string, entry: CacheEntry, token: string): Promise<FillResult> {
    await this.#begin()
    const ttl = Math.ceil(entry.staleUntil - this.#clock.now())
    if (ttl <= 0) {
      await this.releaseLease(key, token)
      return 'ok'
    }
    const result = await this.client.tcFillWithLease(this.keys.entry(key), this.keys.lease(key), this.keys.tombstone(key), token,
      encodeEntry(entry, this.#serializer), ttl, versionArg(entry.version))
    return result === 1 ? 'ok' : result === 0 ? 'lost' : 'outdated'
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.#begin()
    await this.client.tcReleaseLease(this.keys.lease(key), token)
  }

  async setEntry(key: string, entry: CacheEntry): Promise<FillResult> {
    await this.#begin()
    const ttl = Math.ceil(entry.staleUntil - this.#clock.now())
    const result = await this.client.tcSetEntry(this.keys.entry(key), this.keys.lease(key), this.keys.tombstone(key),
      ttl > 0 ? encodeEntry(entry, this.#serializer) : Buffer.alloc(0), ttl, versionArg(entry.version))
    return result === 1 ? 'ok' : 'outdated'
  }

  async setEntries(entries: readonly (readonly [string, CacheEntry])[]): Promise<FillResult[]> {
    if (this.#cluster) return Promise.all(entries.map(([key, entry]) => this.setEntry(key, entry)))
    await this.#begin()
    const now = this.#clock.now()
    // One script call per 200 keys (the keys of one call span many slots, so standalone only),
    // all sent at once.
    const calls: Promise<number[]>[] = []
    for (let i = 0; i < entries.length; i += SET_ENTRIES_CHUNK) {
      const keys: string[] = []
      const args: (string | number | Buffer)[] = []
      for (const [key, entry] of entries.slice(i, i + SET_ENTRIES_CHUNK)) {
        const ttl = Math.ceil(entry.staleUntil - now)
        keys.push(this.keys.entry(key), this.keys.lease(key), this.keys.tombstone(key))
        args.push(ttl > 0 ? encodeEntry(entry, this.#serializer) : Buffer.alloc(0), ttl, versionArg(entry.version))
      }
      calls.push(this.client.tcSetEntries(keys.length, ...keys, ...args))
    }
    return (await Promise.all(calls)).flat().map((result) => (result === 1 ? 'ok' : 'outdated'))
  }

  async invalidate(keys: readonly string[], version: number | undefined, tombstoneMs: number): Promise<void> {
    await this.#begin()
    const v = versionArg(version)
    await Promise.all(keys.map((key) =>
      this.client.tcInvalidate(this.keys.entry(key), this.keys.lease(key), this.keys.tombstone(key), v, tombstoneMs)))
  }

  async tagVersions(tags: readonly string[]): Promise<number[]> {
    await this.#begin()
    if (tags.length === 0) return []
    // Every tag key of a namespace shares one hash tag, so one MGET serves a Cluster too.
    const values = await this.client.mget(...tags.map((tag) => this.keys.tag(tag)))
    return values.map((v) => (v === null ? 0 : Number(v)))
  }

  async beginWrite(key: string, token: string, ttlMs: number): Promise<void> {
    await this.#begin()
    await this.client.tcWriteBegin(this.keys.lease(key), token, ttlMs)
  }

  async commitWrite(key: string, entry: CacheEntry, token: string): Promise<CommitResult> {
    await this.#begin()
    const ttl = Math.ceil(entry.staleUntil - this.#clock.now())
    const result = await this.client.tcWriteCommit(this.keys.entry(key), this.keys.lease(key), this.keys.tombstone(key), token,
      ttl > 0 ? encodeEntry(entry, this.#serializer) : Buffer.alloc(0), ttl, versionArg(entry.version))
    return result === 1 ? 'ok' : result === 0 ? 'lost' : 'outdated'
  }

  async abortWrite(key: string, token: string): Promise<void> {
    await this.#begin()
    await this.client.tcWriteAbort(this.keys.lease(key), token)
  }

  async deleteIfVersion(key: string, version: number): Promise<boolean> {
    await this.#begin()
    return (await this.client.tcDeleteIfVersion(this.keys.entry(key), String(version))) > 0
  }

  async deletePrefixStep(prefix: string, cursor: PrefixCursor | undefined, batch: number): Promise<PrefixStep> {
    await this.#begin()
    return deletePrefixStep(this.client, this.keys, prefix, cursor, batch)
  }

  async acquireLock(name: string, token: string, ttlMs: number): Promise<number | undefined> {
    await this.#begin()
    const fence = await this.client.tcLockAcquire(this.keys.lock(name), this.keys.lockFence(name), token, ttlMs, Math.max(ttlMs, LOCK_FENCE_TTL_MS))
    return fence === null ? undefined : Number(fence)
  }

  async releaseLock(name: string, token: string): Promise<boolean> {
    await this.#begin()
    return (await this.client.tcReleaseLease(this.keys.lock(name), token)) === 1
  }

  async extendLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    await this.#begin()
    return (await this.client.tcLockExtend(this.keys.lock(name), token, ttlMs)) === 1
  }

  /**
   * Every command starts here: undefined when connected (and the tick's writes are then coalesced,
   * see write-coalescer.ts), a promise while the first connection is made, a throw when down.
   */
  #begin(): Promise<void> | undefined {
    const waiting = this.#readiness.check()
    if (waiting === undefined) this.#coalescer.hold()
    return waiting
  }

  counters(): { corrupt: number } {
    return { corrupt: this.#corrupt }
  }

  /**
   * A value that cannot be decoded is a miss, not an error: the loader replaces it. Corrupt bytes
   * are counted and removed; an entry in a newer format or from another serializer is left alone
   * (another deployment may be reading it) and counted too.
   */
  #decode(redisKey: string, buf: Buffer): CacheEntry | undefined {
    try {
      return decodeEntry(buf, this.#serializer)
    } catch (error) {
      this.#corrupt++
      if (isTierCacheError(error, 'E_ENTRY_CORRUPT')) this.client.unlink(redisKey).catch(() => {})
      return undefined
    }
  }
}

/** Most keys one `setEntries` script call writes (it holds Redis while it runs). */
const SET_ENTRIES_CHUNK = 200

/** How long a lock's fencing counter outlives its last acquire (it never goes back after expiring). */
const LOCK_FENCE_TTL_MS = 7 * 86_400_000

function versionArg(version: number | undefined): string {
  return version === undefined ? '' : String(version)
}

/** Creates a Redis-backed store. */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(options)
}
