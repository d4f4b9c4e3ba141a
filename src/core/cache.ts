import type { CacheResult, GetOrSetOptions, Invalidation, Loader, SetManyItem, SetOptions } from './cache-types.js'
import type { Clock } from '../ports/clock.js'
import { Coherence } from './coherence.js'
import type { CacheEntry } from '../ports/entry.js'
import { EntryBuilder } from './entry-builder.js'
import { CacheClosedError, InvalidOptionError, LockError } from './errors.js'
import { Filler, rejectWith, servableAsStale } from './filler.js'
import type { FillHost } from './filler.js'
import { assertKey, isValidKey, normalizeTags } from './key.js'
import type { LockHandle, LockOptions } from './lock.js'
import { LocalLockStore, acquireLock } from './lock.js'
import type { CacheOptions, ResolvedOptions } from './options.js'
import { isRecord, resolveEntryOptions, resolveOptions } from './options.js'
import type { Serializer } from './serializer.js'
import { SharedTier } from './shared-tier.js'
import type { CacheStats } from './stats.js'
import { Counters } from './stats.js'
import { channels } from './telemetry.js'
import { TierGuard } from './tier-guard.js'
import type { LockStore } from '../ports/lock-store.js'
import { isLockStore } from '../ports/lock-store.js'
import type { InvalidationBus } from '../ports/bus.js'
import type { CacheStore, L1Store } from '../ports/store.js'
import { createL1Store } from '../l1/create-l1-store.js'

export type { CacheResult, GetOrSetOptions, Invalidation, Loader, LoaderContext, SetManyItem, SetOptions } from './cache-types.js'

/**
 * A tiered cache: L1 in-process, L2 shared (Redis), a loader behind both, kept coherent across
 * nodes by an invalidation bus. Create it with {@link createCache}.
 */
export class TierCache {
  readonly namespace: string
  readonly #options: ResolvedOptions
  readonly #clock: Clock
  readonly #serializer: Serializer
  readonly #builder: EntryBuilder
  readonly #l1: L1Store | undefined
  readonly #clone: boolean
  readonly #l1MaxTtl: number
  readonly #shared: SharedTier | undefined
  #ownsL2 = false
  #ownedBus: InvalidationBus | undefined
  readonly #coherence: Coherence
  readonly #localLocks: LocalLockStore
  readonly #counters = new Counters()
  readonly #filler: Filler
  #closed = false

  constructor(options?: CacheOptions) {
    const o = resolveOptions(options)
    this.#options = o
    this.namespace = o.namespace
    this.#clock = o.clock
    this.#serializer = o.serializer
    this.#builder = new EntryBuilder(o.serializer, o.maxValueBytes, o.clock)
    this.#localLocks = new LocalLockStore(o.clock)
    if (o.l1 === false) {
      this.#l1 = undefined
      this.#clone = false
      this.#l1MaxTtl = 0
    } else {
      this.#l1 = o.l1.store ?? createL1Store({ policy: o.l1.policy, maxBytes: o.l1.maxBytes, clock: o.clock })
      this.#clone = o.l1.clone
      this.#l1MaxTtl = o.l1.maxTtl
    }
    this.#coherence = new Coherence({
      host: {
        dropL1: (keys) => { for (const key of keys) this.#dropLocal(key) },
        flushL1: (reason) => { this.#flushLocal(reason) },
        invalidateShared: (keys, version) => this.#invalidateShared(keys, version),
      },
      clock: o.clock,
      logger: o.logger,
      namespace: o.namespace,
      fencedTtl: o.fencedTtl,
      publishTimeout: o.l2?.timeout ?? 1_000,
    })
    if (o.bus !== undefined && o.bus !== false) this.#coherence.attach(o.bus)
    else if (o.bus === undefined && o.l2 !== undefined && o.l2.source.kind !== 'store') this.#coherence.expectBus()
    if (o.l2 === undefined) {
      this.#shared = undefined
    } else {
      const namespace = o.namespace
      const guard = new TierGuard('L2', {
        timeoutMs: o.l2.timeout,
        threshold: o.l2.breakerThreshold,
        cooldownMs: o.l2.breakerCooldown,
        clock: o.clock,
        logger: o.logger,
        onStateChange: (state) => {
          if (channels.tier.hasSubscribers) channels.tier.publish({ namespace, tier: 'l2', state })
        },
      })
      const source = o.l2.source
      if (source.kind === 'store') {
        this.#shared = new SharedTier(guard, source.store)
      } else {
        // Loaded on demand so that importing the core never loads ioredis.
        this.#ownsL2 = source.kind !== 'client'
        const connectTimeout = o.l2.connectTimeout
        this.#shared = new SharedTier(guard, import('../redis/index.js').then(async (m) => {
          const store = m.createRedisStore({
            ...(source.kind === 'redis' ? { redis: source.redis } : source.kind === 'cluster' ? { cluster: source.nodes } : { client: source.client }),
            namespace: o.namespace,
            serializer: o.serializer,
            clock: o.clock,
          })
          if (o.bus === undefined && !this.#closed) {
            // The bus shares the store's connection for publishing; its follower opens its own.
            const bus = new m.RedisStreamBus({ client: store.client, namespace: o.namespace, logger: o.logger, tagTtlMs: o.tagTtl })
            this.#ownedBus = bus
            this.#coherence.attach(bus)
          }
          if (this.#closed) void store.close()
          await store.ready(connectTimeout)
          return store
        }))
      }
    }
    const host: FillHost = {
      namespace: o.namespace,
      options: o,
      counters: this.#counters,
      coherence: this.#coherence,
      shared: this.#shared,
      isClosed: () => this.#closed,
      fillL1: (key, entry, stamp) => { this.#fillL1(key, entry, stamp) },
      l1Value: (entry) => this.#l1Value(entry),
      build: (key, value, spec) => this.#build(key, value, spec),
      isCurrent: (entry) => this.#isCurrent(entry),
      currentTagVersions: (tags) => this.#currentTagVersions(tags),
    }
    this.#filler = new Filler(host)
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads a fresh value from L1, then L2. Resolves to `undefined` on a miss; never calls a loader
   * and never returns a stale value.
   */
  get<T>(key: string): Promise<T | undefined> {
    const l1 = this.#l1
    if (l1 !== undefined && !this.#closed && isValidKey(key)) {
      const entry = l1.get(key)
      if (entry !== undefined && entry.freshUntil > this.#clock.now() && (entry.tags.length === 0 || this.#coherence.tags.check(entry) === 'valid')) {
        this.#counters.l1Hits++
        if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.namespace, key, tier: 'l1' })
        return Promise.resolve((this.#clone ? this.#serializer.deserialize(entry.bytes as Buffer) : entry.value) as T)
      }
    }
    return this.#getSlow(key, false) as Promise<T | undefined>
  }

  /**
   * Reads L1 only, synchronously: the fresh value if this process holds it, else undefined. No
   * promise, no L2, no loader: for hot paths that can take a miss, and for inspecting a node.
   */
  peek<T>(key: string): T | undefined {
    if (this.#closed || !isValidKey(key)) return undefined
    const entry = this.#l1?.peek(key)
    if (entry === undefined || entry.freshUntil <= this.#clock.now() || this.#coherence.tags.check(entry) !== 'valid') return undefined
    return this.#l1Value(entry) as T
  }

  /** Like {@link TierCache.get}, with where the value came from. */
  getEntry<T>(key: string): Promise<CacheResult<T> | undefined> {
    return this.#getSlow(key, true) as Promise<CacheResult<T> | undefined>
  }

  // Not async, and one `then` for the whole L2 read: an L2 hit is the hot path when L1 is off or
  // cold, and each extra promise layer costs (bench/core.ts measures it against the raw client).
  // Resolves to the value, or with `asResult` to a CacheResult.
  #getSlow(key: string, asResult: boolean): Promise<unknown> {
    try {
      this.#assertOpen()
      assertKey(key)
    } catch (error) {
      return rejectWith(error)
    }
    const l1 = this.#l1?.get(key)
    if (l1 !== undefined && l1.freshUntil > this.#clock.now() && this.#coherence.tags.check(l1) === 'valid') {
      this.#counters.l1Hits++
      const value = this.#l1Value(l1)
      return Promise.resolve(asResult ? { value, stale: false, source: 'l1' } : value)
    }
    if (this.#l1 !== undefined) this.#counters.l1Misses++
    if (this.#shared === undefined) return Promise.resolve(undefined)
    // Without L1 there is nothing to fence: skip hashing the key.
    const stamp = this.#l1 === undefined ? 0 : this.#coherence.generations.stamp(key)
    return this.#shared.get(key, (entry) => this.#afterL2Get(key, entry, stamp, asResult))
  }

  #afterL2Get(key: string, entry: CacheEntry | undefined, stamp: number, asResult: boolean): unknown {
    if (entry !== undefined && entry.freshUntil > this.#clock.now() && !this.#coherence.isPending(key)) {
      const state = this.#coherence.tags.check(entry)
      if (state === 'valid') {
        this.#counters.l2Hits++
        if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.namespace, key, tier: 'l2' })
        this.#fillL1(key, entry, stamp)
        return asResult ? { value: entry.value, stale: false, source: 'l2' } : entry.value
      }
      if (state === 'unknown') {
        return this.#isCurrent(entry).then((current) => this.#afterL2Get(key, current ? entry : undefined, stamp, asResult))
      }
    }
    this.#counters.l2Misses++
    if (channels.miss.hasSubscribers) channels.miss.publish({ namespace: this.namespace, key })
    return undefined
  }

  /**
   * Returns the fresh cached value, or runs `loader` once per key (concurrent callers in this
   * process share the call; with Redis, processes share one through a fill lease), stores the
   * result in every tier and returns it. With `grace`, a failing or slow loader is answered with
   * the last value instead; see {@link TierCache.getOrSetEntry} to see whether that happened.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    const l1 = this.#l1
    if (l1 !== undefined && !this.#closed && isValidKey(key)) {
      const entry = l1.get(key)
      if (entry !== undefined) {
        const now = this.#clock.now()
        if (entry.freshUntil > now && (entry.tags.length === 0 || this.#coherence.tags.check(entry) === 'valid')) {
          this.#counters.l1Hits++
          if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.namespace, key, tier: 'l1' })
          if (options?.refreshAhead !== undefined && options.refreshAhead !== false) this.#filler.maybeRefresh(key, entry, now, loader, options)
          return Promise.resolve(this.#l1Value(entry) as T)
        }
      }
    }
    return this.#resolve(key, loader, options).then((r) => r.value as T)
  }

  /** {@link TierCache.getOrSet}, answering with the value, its source and whether it is stale. */
  getOrSetEntry<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<CacheResult<T>> {
    return this.#resolve(key, loader, options) as Promise<CacheResult<T>>
  }

  async #resolve(key: string, loader: Loader<unknown>, options: GetOrSetOptions | undefined): Promise<CacheResult<unknown>> {
    this.#assertOpen()
    assertKey(key)
    if (typeof loader !== 'function') throw new InvalidOptionError('loader', 'a function', loader)
    const call = this.#filler.resolveCall(key, options)
    const now = this.#clock.now()
    let l1 = this.#l1?.get(key)
    if (l1 !== undefined) {
      if (l1.freshUntil > now && (await this.#isCurrent(l1))) {
        this.#counters.l1Hits++
        return { value: this.#l1Value(l1), stale: false, source: 'l1' }
      }
      if (!servableAsStale(l1, now)) l1 = undefined
    }
    if (this.#l1 !== undefined) this.#counters.l1Misses++
    const flight = this.#filler.inFlight(key)
    if (flight !== undefined) {
      this.#counters.coalesced++
      return flight
    }
    return this.#filler.start(key, loader, call, l1, undefined)
  }

  // ---------------------------------------------------------------------------------------------
  // Loads

  // ---------------------------------------------------------------------------------------------
  // Writes and invalidation

  /** Stores `value` in every tier; other nodes drop their L1 copy. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    this.#assertOpen()
    assertKey(key)
    const { ttl, grace } = resolveEntryOptions(this.#options, options)
    const tags = normalizeTags(options?.tags, key)
    const version = options?.version
    if (version !== undefined && !Number.isFinite(version)) throw new InvalidOptionError('version', 'a finite number', version)
    const tagVersions = tags.length === 0 ? undefined : await this.#currentTagVersions(tags)
    const entry = this.#build(key, value, { ttl, grace, tags, tagVersions, loadMs: 0, version })
    const held = this.#l1?.peek(key)
    const older = version !== undefined && held?.version !== undefined && held.version > version
    this.#dropLocal(key)
    const stamp = this.#coherence.generations.stamp(key)
    // L1 is written after L2 answered: if Redis refuses the value (older than what it has seen),
    // this node must not keep it either.
    const refused = await this.#writeShared([[key, entry]], version)
    if (!older && !refused.has(key)) this.#fillL1(key, entry, stamp)
  }

  /** Stores many values. Every item is validated first: one bad item rejects the call and nothing is written. */
  async setMany(items: readonly SetManyItem[]): Promise<void> {
    this.#assertOpen()
    if (!Array.isArray(items)) throw new InvalidOptionError('items', 'an array of { key, value }', items)
    const specs: { key: string; value: unknown; ttl: number; grace: number; tags: readonly string[] }[] = []
    for (const item of items) {
      if (!isRecord(item)) throw new InvalidOptionError('items[]', 'an object { key, value, ttl?, grace?, tags? }', item)
      assertKey(item.key)
      const { ttl, grace } = resolveEntryOptions(this.#options, item)
      specs.push({ key: item.key, value: item.value, ttl, grace, tags: normalizeTags(item.tags, item.key) })
    }
    const allTags = [...new Set(specs.flatMap((s) => s.tags))]
    const known = new Map<string, number>()
    if (allTags.length > 0) {
      const versions = await this.#currentTagVersions(allTags)
      allTags.forEach((t, i) => known.set(t, versions[i] as number))
    }
    const built = specs.map((s) => [s.key, this.#build(s.key, s.value, {
      ttl: s.ttl, grace: s.grace, tags: s.tags, tagVersions: s.tags.length === 0 ? undefined : s.tags.map((t) => known.get(t) as number), loadMs: 0, version: undefined,
    })] as [string, CacheEntry])
    const stamps = built.map(([key]) => {
      this.#dropLocal(key)
      return this.#coherence.generations.stamp(key)
    })
    const refused = built.length > 0 ? await this.#writeShared(built, undefined) : new Set<string>()
    built.forEach(([key, entry], i) => {
      if (!refused.has(key)) this.#fillL1(key, entry, stamps[i] as number)
    })
  }

  /** Removes a key from every tier and from every node's L1. */
  delete(key: string): Promise<void> {
    return this.invalidate({ keys: [key] })
  }

  /** Invalidates every entry carrying any of `tags`, in every tier and on every node. O(1) per tag. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.invalidate({ tags })
  }

  /**
   * Removes keys and invalidates tags everywhere, as one message on the bus. With `version` (a
   * commit position), fills that loaded an older version are rejected afterwards.
   */
  async invalidate(what: Invalidation): Promise<void> {
    this.#assertOpen()
    if (typeof what !== 'object' || what === null || Array.isArray(what)) {
      throw new InvalidOptionError('invalidate', 'an object { keys?, tags?, version? }', what)
    }
    const keys: readonly string[] = what.keys ?? []
    if (!isList(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys)
    for (const key of keys) assertKey(key)
    const tags = normalizeTags(what.tags)
    const version: number | undefined = what.version
    if (version !== undefined && !Number.isFinite(version)) throw new InvalidOptionError('version', 'a finite number', version)
    for (const key of keys) {
      this.#dropLocal(key)
      this.#filler.forgetBackoff(key)
    }
    let sharedOk = true
    if (keys.length > 0) sharedOk = await this.#invalidateShared(keys, version)
    await this.#shared?.ready()
    if (this.#coherence.bus === undefined) {
      // One node (or no bus): tag versions are this process's own.
      for (const tag of tags) this.#coherence.tags.bump(tag)
      return
    }
    const message = { keys: keys.length > 0 ? keys : undefined, tags: tags.length > 0 ? tags : undefined, version }
    const receipt = await this.#coherence.publish(message, sharedOk ? [] : keys)
    if (receipt?.tagVersions !== undefined) {
      tags.forEach((tag, i) => this.#coherence.tags.observe(tag, receipt.tagVersions?.[i] as number))
    } else {
      // Not confirmed (it waits in the outbox): stop serving the tags here at least.
      for (const tag of tags) this.#coherence.tags.bump(tag)
    }
    if (receipt !== undefined && !sharedOk) this.#coherence.retryLater({ keys, version }, keys)
  }

  /**
   * A distributed lock (Redis when L2 is Redis, else in-process). Resolves to a handle with a
   * fencing token; rejects with `E_LOCK_TIMEOUT` if it stays held past `wait`.
   */
  async lock(name: string, options?: LockOptions): Promise<LockHandle> {
    this.#assertOpen()
    assertKey(name)
    let store: LockStore = this.#localLocks
    if (this.#shared !== undefined) {
      await this.#shared.ready()
      const l2 = this.#shared.store
      if (l2 === undefined || !isLockStore(l2)) {
        throw new LockError('E_LOCK_UNAVAILABLE', 'this cache\'s L2 store does not support locks', { lock: name })
      }
      store = l2
    }
    try {
      return await acquireLock(store, this.#clock, name, options, (ms) => new Promise((r) => this.#clock.setTimeout(r, ms)))
    } catch (error) {
      if (error instanceof LockError || (error as { code?: string }).code === 'E_INVALID_OPTION') throw error
      throw new LockError('E_LOCK_UNAVAILABLE', `lock "${name}" could not be taken: ${(error as Error).message}`, { lock: name })
    }
  }

  /** Reads many keys: L1 first, then one L2 round trip for the rest (one per node on a Cluster). Answers in order. */
  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    this.#assertOpen()
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys)
    for (const key of keys) assertKey(key)
    const out = new Array<T | undefined>(keys.length)
    const missing: number[] = []
    const now = this.#clock.now()
    for (let i = 0; i < keys.length; i++) {
      const entry = this.#l1?.get(keys[i] as string)
      if (entry !== undefined && entry.freshUntil > now && this.#coherence.tags.check(entry) === 'valid') {
        this.#counters.l1Hits++
        out[i] = this.#l1Value(entry) as T
      } else {
        if (this.#l1 !== undefined) this.#counters.l1Misses++
        missing.push(i)
      }
    }
    if (missing.length === 0 || this.#shared === undefined) return out
    const missingKeys = missing.map((i) => keys[i] as string)
    const stamps = missingKeys.map((key) => this.#coherence.generations.stamp(key))
    const entries = await this.#l2Call((store) => store.getMany(missingKeys), undefined)
    if (entries === undefined) return out
    const after = this.#clock.now()
    for (let j = 0; j < missing.length; j++) {
      const entry = entries[j]
      if (entry !== undefined && entry.freshUntil > after && !this.#coherence.isPending(missingKeys[j] as string) && (await this.#isCurrent(entry))) {
        this.#counters.l2Hits++
        this.#fillL1(missingKeys[j] as string, entry, stamps[j] as number)
        out[missing[j] as number] = entry.value as T
      } else {
        this.#counters.l2Misses++
      }
    }
    return out
  }

  /** Counters per layer since creation. */
  stats(): CacheStats {
    const c = this.#counters
    const l1 = this.#l1?.stats()
    const guard = this.#shared?.guard
    const bus = this.#coherence.bus
    return {
      namespace: this.namespace,
      l1: l1 === undefined ? undefined : { hits: c.l1Hits, misses: c.l1Misses, ...l1 },
      l2: guard === undefined ? undefined : {
        hits: c.l2Hits,
        misses: c.l2Misses,
        errors: guard.stats.errors,
        timeouts: guard.stats.timeouts,
        skipped: guard.stats.skipped,
        breaker: guard.breakerState,
        corrupt: (this.#shared?.store?.counters?.().corrupt ?? 0),
      },
      loader: { calls: c.loaderCalls, errors: c.loaderErrors, timeouts: c.loaderTimeouts, coalesced: c.coalesced, refreshes: c.refreshes },
      staleServed: c.staleServed,
      coherence: {
        bus: bus?.name,
        fenced: this.#coherence.fenced,
        flushes: c.flushes,
        pendingInvalidations: this.#coherence.pendingInvalidations,
      },
    }
  }

  /** Closes owned connections and empties L1. Later calls reject with `E_CACHE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#coherence.close()
    this.#shared?.guard.close()
    this.#l1?.close()
    this.#filler.clear()
    await this.#ownedBus?.close()
    if (this.#ownsL2) {
      await this.#shared?.ready()
      await this.#shared?.store?.close()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /** The versions of `tags` now: known locally, else read from L2 (0 when unknown everywhere). */
  async #currentTagVersions(tags: readonly string[]): Promise<number[]> {
    const registry = this.#coherence.tags
    const known = registry.versions(tags)
    if (known !== undefined) return known
    const store = this.#shared?.coherent
    const bus = this.#coherence.bus
    let fetched: number[] | undefined
    if (store !== undefined) fetched = await this.#l2Call(() => store.tagVersions(tags), undefined)
    else if (bus?.tagVersions !== undefined) fetched = await bus.tagVersions(tags).catch(() => undefined)
    tags.forEach((tag, i) => registry.observe(tag, fetched?.[i] ?? 0))
    return registry.versions(tags) ?? tags.map(() => 0)
  }

  /** True when no tag of `entry` was invalidated after it was loaded (asks L2 for unknown tags). */
  async #isCurrent(entry: CacheEntry): Promise<boolean> {
    const registry = this.#coherence.tags
    const state = registry.check(entry)
    if (state !== 'unknown') return state === 'valid'
    await this.#currentTagVersions(entry.tags)
    return registry.check(entry) === 'valid'
  }

  #build(key: string, value: unknown, spec: { ttl: number; grace: number; tags: readonly string[]; tagVersions: readonly number[] | undefined; loadMs: number; version: number | undefined }): CacheEntry {
    // Tagged entries must not outlive their tag versions in Redis (see TagRegistry).
    return this.#builder.build(key, value, { ...spec, maxLifetime: spec.tags.length === 0 ? Number.POSITIVE_INFINITY : this.#options.tagTtl })
  }

  /** Copies an entry into L1 unless `key` was invalidated since `stamp`. */
  #fillL1(key: string, entry: CacheEntry, stamp: number): void {
    if (this.#l1 === undefined || this.#coherence.generations.changed(key, stamp)) return
    this.#writeL1(key, entry)
  }

  /** Copies an entry into L1 with the hard TTL cap (and the fence cap) applied. */
  #writeL1(key: string, entry: CacheEntry): void {
    const l1 = this.#l1
    if (l1 === undefined) return
    const now = this.#clock.now()
    const staleUntil = Math.min(entry.staleUntil, now + this.#l1MaxTtl)
    if (staleUntil <= now) return
    l1.set(key, {
      value: this.#clone ? undefined : entry.value,
      bytes: this.#clone ? (entry.bytes ?? this.#serializer.serialize(entry.value).bytes) : undefined,
      size: entry.size,
      createdAt: entry.createdAt,
      freshUntil: Math.min(entry.freshUntil, staleUntil, this.#coherence.fencedUntil),
      staleUntil,
      tags: entry.tags,
      tagVersions: entry.tagVersions,
      version: entry.version,
      loadMs: entry.loadMs,
    })
  }

  /**
   * Writes explicit values to L2 (voiding fill leases) and tells other nodes to drop their L1 copy.
   * Resolves to the keys L2 refused as older than what it has seen. A write that failed leaves the
   * old value in L2, so it is turned into an invalidation and retried from the outbox until L2
   * forgets the old value (other nodes would otherwise read it back for the whole TTL).
   */
  async #writeShared(entries: readonly [string, CacheEntry][], version: number | undefined): Promise<Set<string>> {
    const refused = new Set<string>()
    const failed: string[] = []
    if (this.#shared !== undefined) {
      await this.#shared.ready()
      const store = this.#shared.coherent
      if (store !== undefined) {
        const results = await Promise.all(entries.map(([key, entry]) => this.#l2Call(() => store.setEntry(key, entry), undefined)))
        results.forEach((result, i) => {
          const key = (entries[i] as [string, CacheEntry])[0]
          if (result === 'outdated') refused.add(key)
          else if (result === undefined) failed.push(key)
        })
      } else {
        const ok = await this.#l2Call(async (s) => {
          await (entries.length === 1 ? s.set(entries[0]![0], entries[0]![1]) : s.setMany(entries))
          return true
        }, false)
        if (!ok) failed.push(...entries.map(([key]) => key))
      }
    }
    if (failed.length > 0) this.#coherence.retryLater({ keys: failed, version }, failed)
    if (this.#coherence.bus !== undefined) {
      const published = entries.map(([key]) => key).filter((key) => !refused.has(key))
      if (published.length > 0) await this.#coherence.publish({ keys: published })
    }
    return refused
  }

  /** Removes keys from L2 (voiding leases, raising tombstones). False when L2 failed. */
  async #invalidateShared(keys: readonly string[], version: number | undefined): Promise<boolean> {
    if (this.#shared === undefined) return true
    const store = this.#shared.coherent
    if (store !== undefined) return (await this.#l2Call(() => store.invalidate(keys, version, this.#options.tombstoneTtl).then(() => true), false))
    return (await this.#l2Call(async (s) => { await s.deleteMany(keys); return true }, false))
  }

  /** This process's view of an invalidation of `key`: L1 copy gone, loads in flight fenced. */
  #dropLocal(key: string): void {
    this.#coherence.generations.bump(key)
    this.#l1?.delete(key)
  }

  #flushLocal(reason: string): void {
    if (channels.flush.hasSubscribers) channels.flush.publish({ namespace: this.namespace, reason })
    this.#counters.flushes++
    this.#coherence.generations.bumpAll()
    this.#coherence.tags.clear()
    this.#l1?.clear()
  }

  /** Every L2 call goes through the shared tier's guard: a budget, a breaker and a fallback. */
  #l2Call<T, F>(fn: (store: CacheStore) => T | Promise<T>, fallback: F): Promise<T | F> {
    return this.#shared?.call(fn, fallback) ?? Promise.resolve(fallback)
  }

  #l1Value(entry: CacheEntry): unknown {
    return this.#clone ? this.#serializer.deserialize(entry.bytes as Buffer) : entry.value
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError(this.namespace)
  }
}

/** Array.isArray without its type guard (which turns a readonly string[] into any[]). */
function isList(value: unknown): boolean {
  return Array.isArray(value)
}

/** Creates a tiered cache. Options are validated here, once; see {@link CacheOptions}. */
export function createCache(options?: CacheOptions): TierCache {
  return new TierCache(options)
}
