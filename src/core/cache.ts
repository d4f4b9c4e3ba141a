import { randomBytes } from 'node:crypto'
import type { Clock } from './clock.js'
import { Coherence } from './coherence.js'
import type { CacheEntry } from './entry.js'
import { EntryBuilder } from './entry-builder.js'
import { CacheClosedError, InvalidOptionError, LoaderTimeoutError, LockError } from './errors.js'
import { assertKey, isValidKey, normalizeTags } from './key.js'
import type { LockHandle, LockOptions } from './lock.js'
import { LocalLockStore, acquireLock } from './lock.js'
import type { CacheOptions, EntryOptions, ResolvedOptions } from './options.js'
import { isRecord, positiveDuration, resolveEntryOptions, resolveOptions } from './options.js'
import type { Duration } from './duration.js'
import { parseDuration } from './duration.js'
import type { Serializer } from './serializer.js'
import type { CacheStats } from './stats.js'
import { Counters } from './stats.js'
import { channels } from './telemetry.js'
import { TierGuard } from './tier-guard.js'
import type { CoherentStore, LeaseRead } from '../ports/coherent-store.js'
import { isCoherentStore } from '../ports/coherent-store.js'
import type { LockStore } from '../ports/lock-store.js'
import { isLockStore } from '../ports/lock-store.js'
import type { InvalidationBus } from '../ports/bus.js'
import type { CacheStore, L1Store } from '../ports/store.js'
import { createL1Store } from '../l1/create-l1-store.js'

/** What a loader receives. */
export interface LoaderContext {
  readonly key: string
  /** Aborted when the hard timeout passes: pass it to fetch/pg so the work stops too. */
  readonly signal: AbortSignal
  /** The stale value being replaced, if any (for conditional loads). */
  readonly staleValue: unknown
  /** Overrides the TTL of the value being loaded (for example from an upstream Cache-Control). */
  setTtl(ttl: Duration): void
  /**
   * Records the source version (row version, commit position) of the value being loaded. A value
   * older than the last invalidation of its key that carried a version is not stored.
   */
  setVersion(version: number): void
}

/** A loader: fetches the value from the source of truth. */
export type Loader<T> = (context: LoaderContext) => T | Promise<T>

/** Options of `getOrSet`. */
export interface GetOrSetOptions extends EntryOptions {
  /** Hard timeout for this load (see {@link CacheOptions.timeout}). */
  timeout?: Duration
  /** Soft timeout for this load (see {@link CacheOptions.softTimeout}). */
  softTimeout?: Duration
  /**
   * Refresh hot keys before they expire, in the background. `true`: probabilistic early
   * expiration (XFetch: the longer the load took, the earlier). A number in (0, 1): refresh once
   * the entry is older than that fraction of its TTL.
   */
  refreshAhead?: boolean | number
}

/** Options of `set`. */
export interface SetOptions extends EntryOptions {
  /**
   * Source version of the value (row version, commit position). A write older than what the
   * cache has seen for the key (a stored newer version, or a newer invalidation) is dropped, so
   * two write-through writers racing cannot leave the older value behind.
   */
  version?: number
}

/** One entry of `setMany`. */
export interface SetManyItem<T = unknown> extends EntryOptions {
  key: string
  value: T
}

/** What `invalidate` removes. */
export interface Invalidation {
  keys?: readonly string[]
  tags?: readonly string[]
  /** Source version (commit position) of the change: fills of older versions are then rejected. */
  version?: number
}

/** Where a value came from, and whether it is stale. */
export interface CacheResult<T> {
  readonly value: T
  /** True when the value is past its freshness (or its tag was invalidated) and was served by fail-safe. */
  readonly stale: boolean
  readonly source: 'l1' | 'l2' | 'loader'
}

interface ResolvedCall {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly timeout: number | undefined
  readonly softTimeout: number | undefined
}

interface StaleCandidate {
  readonly entry: CacheEntry
  readonly source: 'l1' | 'l2'
}

type Answer = (result: CacheResult<unknown> | Promise<never>) => void

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
  readonly #l2Guard: TierGuard | undefined
  #l2: CacheStore | undefined
  #l2Pending: Promise<CacheStore> | undefined
  #ownsL2 = false
  #ownedBus: InvalidationBus | undefined
  readonly #coherence: Coherence
  readonly #localLocks: LocalLockStore
  readonly #counters = new Counters()
  /** Loads in flight, by key: concurrent callers share one. */
  readonly #flights = new Map<string, Promise<CacheResult<unknown>>>()
  /** Keys whose loader failed recently: no new load before this time while a stale value exists. */
  readonly #backoffUntil = new Map<string, number>()
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
    if (o.l2 !== undefined) {
      const namespace = o.namespace
      this.#l2Guard = new TierGuard('L2', {
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
        this.#l2 = source.store
      } else {
        // Loaded on demand so that importing the core never loads ioredis.
        this.#ownsL2 = source.kind !== 'client'
        this.#l2Pending = import('../redis/index.js').then((m) => {
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
          return store.ready(o.l2?.connectTimeout ?? 1_000).then(() => {
            this.#l2 = store
            this.#l2Pending = undefined
            return store
          })
        })
      }
    }
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
    if (this.#l2Guard === undefined) return Promise.resolve(undefined)
    const stamp = this.#coherence.generations.stamp(key)
    const guard = this.#l2Guard
    const store = this.#l2
    // The common case without a closure per call: the store is connected, the guard calls its get.
    const read = store !== undefined ? guard.runWith(store, key) : this.#l2Call((s) => s.get(key), undefined)
    return read.then((entry) => this.#afterL2Get(key, entry, stamp, asResult))
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
          if (options?.refreshAhead !== undefined && options.refreshAhead !== false) this.#maybeRefresh(key, entry, now, loader, options)
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
    const call = this.#resolveCall(key, options)
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
    const flight = this.#flights.get(key)
    if (flight !== undefined) {
      this.#counters.coalesced++
      return flight
    }
    return this.#startFlight(key, loader, call, l1, undefined)
  }

  // ---------------------------------------------------------------------------------------------
  // Loads

  /**
   * Starts the one load of `key` in this process. `current` is the L1 entry being replaced (stale,
   * or still fresh for a refresh-ahead: then an L2 entry counts only if newer).
   */
  #startFlight(key: string, loader: Loader<unknown>, call: ResolvedCall, current: CacheEntry | undefined,
    refreshing: CacheEntry | undefined): Promise<CacheResult<unknown>> {
    let settle!: (result: Promise<CacheResult<unknown>>) => void
    const result = new Promise<CacheResult<unknown>>((resolve) => { settle = resolve })
    this.#flights.set(key, result)
    let answered = false
    const answer: Answer = (r) => {
      if (answered) return
      answered = true
      settle(Promise.resolve(r))
    }
    // The flight stays registered until the load itself is over, even when callers were answered
    // early (soft timeout, hard timeout, stale while another process loads): a slow source gets one
    // load at a time from this process, not one per caller.
    void this.#runFlight(key, loader, call, current, refreshing, answer)
      .catch((error: unknown) => { answer(rejectWith(error)) })
      .finally(() => {
        if (this.#flights.get(key) === result) this.#flights.delete(key)
      })
    return result
  }

  async #runFlight(key: string, loader: Loader<unknown>, call: ResolvedCall, current: CacheEntry | undefined,
    refreshing: CacheEntry | undefined, answer: Answer): Promise<void> {
    const stamp = this.#coherence.generations.stamp(key)
    const tagVersions = call.tags.length === 0 ? undefined : await this.#currentTagVersions(call.tags)
    let stale: StaleCandidate | undefined = current !== undefined ? { entry: current, source: 'l1' } : undefined
    const consider = (entry: CacheEntry | undefined): void => {
      if (entry !== undefined && servableAsStale(entry, this.#clock.now()) && (stale === undefined || entry.freshUntil > stale.entry.freshUntil)) {
        stale = { entry, source: 'l2' }
      }
    }
    // An L2 entry is usable if fresh, current (tags), newer than what a refresh replaces, and not a
    // key this node invalidated while L2 was unreachable (L2 may still hold the old value).
    const usable = async (entry: CacheEntry): Promise<boolean> =>
      entry.freshUntil > this.#clock.now() && (refreshing === undefined || entry.createdAt > refreshing.createdAt) &&
      !this.#coherence.isPending(key) && (await this.#isCurrent(entry))

    let lease: string | undefined
    const store = this.#coherentStore()
    if (store !== undefined && this.#options.lease !== false) {
      const leaseOptions = this.#options.lease
      const token = randomBytes(12).toString('hex')
      const read = async (force: boolean): Promise<LeaseRead | undefined> =>
        this.#l2Call(() => store.readForFill(key, token, leaseOptions.ttl, this.#clock.now(), force), undefined)
      let r = await read(false)
      if (r?.status === 'fresh') {
        if (await usable(r.entry)) {
          this.#counters.l2Hits++
          this.#fillL1(key, r.entry, stamp)
          answer({ value: r.entry.value, stale: false, source: 'l2' })
          return
        }
        consider(r.entry)
        r = await read(true)
      } else if (r !== undefined) {
        this.#counters.l2Misses++
      }
      if (r !== undefined && r.status !== 'fresh') {
        consider(r.entry)
        if (r.status === 'acquired') {
          lease = token
        } else {
          // Another process holds the lease and is loading. A refresh-ahead leaves it to them; a
          // caller with a stale value takes it now; the others wait (bounded) for the value.
          if (refreshing !== undefined) {
            answer({ value: this.#l1Value(refreshing), stale: false, source: 'l1' })
            return
          }
          if (stale !== undefined) {
            answer(this.#serveStale(key, stale.entry, stale.source, 'lease-held'))
            return
          }
          const waited = await this.#waitForFill(key, leaseOptions.wait, usable, read)
          if (waited !== 'lease' && waited !== 'timeout') {
            this.#fillL1(key, waited, stamp)
            answer({ value: waited.value, stale: false, source: 'l2' })
            return
          }
          // 'lease': the holder gave up (its load failed) and this caller took the lease over.
          // 'timeout': the holder did not deliver in time (it died, or its load is slow): load
          // anyway, but without a lease do not write L2 (an unfenced write could outlive an
          // invalidation).
          if (waited === 'lease') lease = token
        }
      }
    } else if (this.#l2Guard !== undefined) {
      const l2 = await this.#readL2(key)
      if (l2 !== undefined && (await usable(l2))) {
        this.#fillL1(key, l2, stamp)
        answer({ value: l2.value, stale: false, source: 'l2' })
        return
      }
      consider(l2)
    }

    const now = this.#clock.now()
    const backoff = this.#backoffUntil.get(key)
    if (backoff !== undefined) {
      if (backoff > now && stale !== undefined) {
        const s: StaleCandidate = stale
        answer(this.#serveStale(key, s.entry, s.source, 'backoff'))
        if (lease !== undefined) await this.#releaseLease(key, lease)
        return
      }
      if (backoff <= now) this.#backoffUntil.delete(key)
    }
    await this.#load(key, loader, call, { stale, stamp, lease, tagVersions, plainL2: store === undefined }, answer)
  }

  /**
   * Waits for another process's fill: polls the lease read until a usable entry lands, the lease
   * frees up (taken over: 'lease'), or `waitMs` passes ('timeout').
   */
  async #waitForFill(key: string, waitMs: number, usable: (entry: CacheEntry) => Promise<boolean>,
    read: (force: boolean) => Promise<LeaseRead | undefined>): Promise<CacheEntry | 'lease' | 'timeout'> {
    const deadline = this.#clock.now() + waitMs
    let pause = 5
    while (this.#clock.now() < deadline && !this.#closed) {
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, Math.min(pause, Math.max(1, deadline - this.#clock.now()))))
      pause = Math.min(Math.ceil(pause * 1.5), 50)
      let r = await read(false)
      if (r === undefined) return 'timeout'
      if (r.status === 'fresh') {
        if (await usable(r.entry)) {
          this.#counters.l2Hits++
          return r.entry
        }
        r = await read(true)
        if (r === undefined) return 'timeout'
      }
      if (r.status === 'acquired') return 'lease'
    }
    return 'timeout'
  }

  async #load(key: string, loader: Loader<unknown>, call: ResolvedCall,
    fill: { stale: StaleCandidate | undefined; stamp: number; lease: string | undefined; tagVersions: number[] | undefined; plainL2: boolean },
    answer: Answer): Promise<void> {
    const { stale } = fill
    const controller = new AbortController()
    let ttl = call.ttl
    let version: number | undefined
    const context: LoaderContext = {
      key,
      signal: controller.signal,
      staleValue: stale?.entry.value,
      setTtl: (value) => { ttl = parseDuration(value, 'ttl') },
      setVersion: (value) => {
        if (!Number.isFinite(value)) throw new InvalidOptionError('version', 'a finite number', value)
        version = value
      },
    }
    const timers: unknown[] = []
    if (stale !== undefined && call.softTimeout !== undefined) {
      timers.push(this.#clock.setTimeout(() => {
        answer(this.#serveStale(key, stale.entry, stale.source, 'soft-timeout'))
      }, call.softTimeout))
    }
    if (call.timeout !== undefined) {
      const timeout = call.timeout
      timers.push(this.#clock.setTimeout(() => {
        this.#counters.loaderTimeouts++
        controller.abort(new LoaderTimeoutError(key, timeout))
        if (stale !== undefined) answer(this.#serveStale(key, stale.entry, stale.source, 'hard-timeout'))
        else answer(Promise.reject(new LoaderTimeoutError(key, timeout)))
      }, timeout))
    }

    this.#counters.loaderCalls++
    const started = this.#clock.now()
    let value: unknown
    try {
      value = await loader(context)
    } catch (error) {
      this.#counters.loaderErrors++
      if (channels.load.hasSubscribers) {
        channels.load.publish({ namespace: this.namespace, key, durationMs: this.#clock.now() - started, ok: false, timedOut: controller.signal.aborted })
      }
      const now = this.#clock.now()
      if (stale !== undefined && stale.entry.staleUntil > now) {
        this.#backoffUntil.set(key, now + this.#options.graceBackoff)
        answer(this.#serveStale(key, stale.entry, stale.source, 'loader-error'))
      } else {
        answer(rejectWith(error))
      }
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      return
    } finally {
      for (const timer of timers) this.#clock.clearTimeout(timer)
    }
    const loadMs = this.#clock.now() - started
    if (channels.load.hasSubscribers) {
      channels.load.publish({ namespace: this.namespace, key, durationMs: loadMs, ok: true, timedOut: controller.signal.aborted })
    }
    let entry: CacheEntry
    try {
      // Invalid values reject the callers and are written nowhere.
      entry = this.#build(key, value, { ttl, grace: call.grace, tags: call.tags, tagVersions: fill.tagVersions, loadMs, version })
    } catch (error) {
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      throw error
    }
    this.#backoffUntil.delete(key)
    answer({ value, stale: false, source: 'loader' })
    if (this.#closed) return
    // Invalidated here while loading (a delete, a set, a bus message): the value may predate it.
    if (this.#coherence.generations.changed(key, fill.stamp)) {
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      return
    }
    const lease = fill.lease
    if (lease !== undefined) {
      const store = this.#coherentStore() as CoherentStore
      const written = await this.#l2Call(() => store.fillWithLease(key, entry, lease), undefined)
      // 'lost' or 'outdated': another node invalidated the key while we loaded; keep it out of L1 too.
      // undefined: L2 failed; L1 is still guarded by the generation stamp and the bus fence.
      if (written === 'lost' || written === 'outdated') return
      this.#fillL1(key, entry, fill.stamp)
    } else {
      this.#fillL1(key, entry, fill.stamp)
      if (fill.plainL2) await this.#l2Call((store) => store.set(key, entry), undefined)
    }
  }

  #serveStale(key: string, entry: CacheEntry, source: 'l1' | 'l2', reason: string): CacheResult<unknown> {
    this.#counters.staleServed++
    if (channels.stale.hasSubscribers) channels.stale.publish({ namespace: this.namespace, key, reason })
    return { value: source === 'l1' ? this.#l1Value(entry) : entry.value, stale: true, source }
  }

  #maybeRefresh(key: string, entry: CacheEntry, now: number, loader: Loader<unknown>, options: GetOrSetOptions): void {
    if (this.#flights.has(key)) return
    const mode = options.refreshAhead
    let due: boolean
    if (mode === true) {
      // XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): expire early with a probability that
      // grows as expiry nears, scaled by how long a load takes; beta = 1 is optimal for one process.
      due = now - entry.loadMs * Math.log(Math.random()) >= entry.freshUntil
    } else if (typeof mode === 'number' && mode > 0 && mode < 1) {
      due = now - entry.createdAt >= (entry.freshUntil - entry.createdAt) * mode
    } else {
      throw new InvalidOptionError('refreshAhead', 'a boolean or a number between 0 and 1', mode)
    }
    if (!due) return
    this.#counters.refreshes++
    const call = this.#resolveCall(key, options)
    this.#startFlight(key, loader, { ...call, softTimeout: undefined }, entry, entry)
      .catch(() => { /* counted as a loader error; the current value stays */ })
  }

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
      this.#backoffUntil.delete(key)
    }
    let sharedOk = true
    if (keys.length > 0) sharedOk = await this.#invalidateShared(keys, version)
    const hasBus = this.#coherence.bus !== undefined || this.#l2Pending !== undefined
    if (!hasBus) {
      // One node (or no bus): tag versions are this process's own.
      for (const tag of tags) this.#coherence.tags.bump(tag)
      return
    }
    await this.#l2Pending?.catch(() => undefined)
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
    if (this.#l2Guard !== undefined) {
      const l2 = this.#l2 ?? (await this.#l2Pending)
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
    if (missing.length === 0 || this.#l2Guard === undefined) return out
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
    const guard = this.#l2Guard
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
        corrupt: (this.#l2?.counters?.().corrupt ?? 0),
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
    this.#l2Guard?.close()
    this.#l1?.close()
    this.#flights.clear()
    this.#backoffUntil.clear()
    await this.#ownedBus?.close()
    if (this.#ownsL2) {
      const store = this.#l2 ?? (await this.#l2Pending?.catch(() => undefined))
      await store?.close()
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /** The versions of `tags` now: known locally, else read from L2 (0 when unknown everywhere). */
  async #currentTagVersions(tags: readonly string[]): Promise<number[]> {
    const registry = this.#coherence.tags
    const known = registry.versions(tags)
    if (known !== undefined) return known
    const store = this.#coherentStore()
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
    if (this.#coherence.generations.changed(key, stamp)) return
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
    if (this.#l2Guard !== undefined) {
      await this.#l2Pending?.catch(() => undefined)
      const store = this.#coherentStore()
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
    if (this.#l2Guard === undefined) return true
    const store = this.#coherentStore()
    if (store !== undefined) return (await this.#l2Call(() => store.invalidate(keys, version, this.#options.tombstoneTtl).then(() => true), false))
    return (await this.#l2Call(async (s) => { await s.deleteMany(keys); return true }, false))
  }

  async #releaseLease(key: string, token: string): Promise<void> {
    const store = this.#coherentStore()
    if (store !== undefined) await this.#l2Call(() => store.releaseLease(key, token), undefined)
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

  #coherentStore(): CoherentStore | undefined {
    const store = this.#l2
    return store !== undefined && isCoherentStore(store) ? store : undefined
  }

  #readL2(key: string): Promise<CacheEntry | undefined> {
    return this.#l2Call((store) => store.get(key), undefined).then((entry) => {
      if (entry !== undefined && entry.freshUntil > this.#clock.now()) {
        this.#counters.l2Hits++
        if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.namespace, key, tier: 'l2' })
      } else {
        this.#counters.l2Misses++
      }
      return entry
    })
  }

  /** Every L2 call goes through here: the guard gives it a budget, a breaker and a fallback. */
  #l2Call<T, F>(fn: (store: CacheStore) => T | Promise<T>, fallback: F): Promise<T | F> {
    const guard = this.#l2Guard
    if (guard === undefined) return Promise.resolve(fallback)
    const store = this.#l2
    if (store !== undefined) return guard.run(() => fn(store), fallback)
    // Still connecting (first calls after createCache): wait for the connection, bounded by
    // l2.connectTimeout, then run the call under the usual budget.
    const pending = this.#l2Pending as Promise<CacheStore>
    return pending.then((ready) => guard.run(() => fn(ready), fallback), () => fallback)
  }

  #resolveCall(key: string, options: GetOrSetOptions | undefined): ResolvedCall {
    const o = this.#options
    if (options === undefined) return { ttl: o.ttl, grace: o.grace, tags: o.tags, timeout: o.timeout, softTimeout: o.softTimeout }
    const { ttl, grace } = resolveEntryOptions(o, options)
    return {
      ttl,
      grace,
      tags: normalizeTags(options.tags, key),
      timeout: options.timeout === undefined ? o.timeout : positiveDuration(options.timeout, 'timeout'),
      softTimeout: options.softTimeout === undefined ? o.softTimeout : positiveDuration(options.softTimeout, 'softTimeout'),
    }
  }

  #l1Value(entry: CacheEntry): unknown {
    return this.#clone ? this.#serializer.deserialize(entry.bytes as Buffer) : entry.value
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError(this.namespace)
  }
}

/**
 * Whether an entry that cannot be served as fresh may be served as stale (fail-safe, soft timeout,
 * another process loading). Past its freshness: while within grace. Still fresh by time, it was
 * invalidated (a tag): only if it has grace at all; with grace 0 an invalidated value is never served.
 */
function servableAsStale(entry: CacheEntry, now: number): boolean {
  return entry.staleUntil > now && (entry.freshUntil <= now || entry.staleUntil > entry.freshUntil)
}

/** Array.isArray without its type guard (which turns a readonly string[] into any[]). */
function isList(value: unknown): boolean {
  return Array.isArray(value)
}

/** The loader's own error reaches the caller unchanged, whatever it is (it may not be an Error). */
function rejectWith(error: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
  return Promise.reject(error)
}

/** Creates a tiered cache. Options are validated here, once; see {@link CacheOptions}. */
export function createCache(options?: CacheOptions): TierCache {
  return new TierCache(options)
}
