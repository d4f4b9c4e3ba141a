import type { Clock } from './clock.js'
import type { CacheEntry } from './entry.js'
import { CacheClosedError, InvalidOptionError, InvalidValueError, LoaderTimeoutError } from './errors.js'
import { assertKey, isValidKey, normalizeTags } from './key.js'
import type { CacheOptions, EntryOptions, ResolvedOptions } from './options.js'
import { isRecord, positiveDuration, resolveEntryOptions, resolveOptions } from './options.js'
import type { Duration } from './duration.js'
import { parseDuration } from './duration.js'
import type { Serializer } from './serializer.js'
import { UnserializableValueError } from './serializer.js'
import type { CacheStats } from './stats.js'
import { Counters } from './stats.js'
import { channels } from './telemetry.js'
import { TierGuard } from './tier-guard.js'
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
  /** Records the source version (row version, commit position) of the value being loaded. */
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

/** One entry of `setMany`. */
export interface SetManyItem<T = unknown> extends EntryOptions {
  key: string
  value: T
}

/** Where a value came from, and whether it is stale. */
export interface CacheResult<T> {
  readonly value: T
  /** True when the value is past its freshness and was served by fail-safe or a soft timeout. */
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

interface Flight {
  /** Settles with the answer every caller of this flight receives. */
  readonly result: Promise<CacheResult<unknown>>
  /** Set when the key is deleted or invalidated while the load runs: its value must not be stored. */
  invalidated: boolean
}

/**
 * A tiered cache: L1 in-process, L2 shared (Redis), a loader behind both.
 * Create it with {@link createCache}.
 */
export class TierCache {
  readonly namespace: string
  readonly #options: ResolvedOptions
  readonly #clock: Clock
  readonly #serializer: Serializer
  readonly #l1: L1Store | undefined
  readonly #clone: boolean
  readonly #l1MaxTtl: number
  readonly #l2Guard: TierGuard | undefined
  #l2: CacheStore | undefined
  #l2Pending: Promise<CacheStore> | undefined
  #ownsL2 = false
  readonly #counters = new Counters()
  readonly #flights = new Map<string, Flight>()
  /** Keys whose loader failed recently: no new load before this time while a stale value exists. */
  readonly #backoffUntil = new Map<string, number>()
  #closed = false

  constructor(options?: CacheOptions) {
    const o = resolveOptions(options)
    this.#options = o
    this.namespace = o.namespace
    this.#clock = o.clock
    this.#serializer = o.serializer
    if (o.l1 === false) {
      this.#l1 = undefined
      this.#clone = false
      this.#l1MaxTtl = 0
    } else {
      this.#l1 = o.l1.store ?? createL1Store({ policy: o.l1.policy, maxBytes: o.l1.maxBytes, clock: o.clock })
      this.#clone = o.l1.clone
      this.#l1MaxTtl = o.l1.maxTtl
    }
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
        this.#l2Pending = import('../redis/redis-store.js').then((m) => {
          const store = m.createRedisStore({
            ...(source.kind === 'redis' ? { redis: source.redis } : source.kind === 'cluster' ? { cluster: source.nodes } : { client: source.client }),
            namespace: o.namespace,
            serializer: o.serializer,
            clock: o.clock,
          })
          if (this.#closed) void store.close()
          this.#l2 = store
          this.#l2Pending = undefined
          return store
        })
      }
    }
  }

  /**
   * Reads a fresh value from L1, then L2. Resolves to `undefined` on a miss; never calls a loader
   * and never returns a stale value.
   */
  get<T>(key: string): Promise<T | undefined> {
    const l1 = this.#l1
    if (l1 !== undefined && !this.#closed && isValidKey(key)) {
      const entry = l1.get(key)
      if (entry !== undefined && entry.freshUntil > this.#clock.now()) {
        this.#counters.l1Hits++
        if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.namespace, key, tier: 'l1' })
        return Promise.resolve((this.#clone ? this.#serializer.deserialize(entry.bytes as Buffer) : entry.value) as T)
      }
    }
    return this.#getSlow<T>(key)
  }

  // Not async: an L2 hit is the hot path when L1 is off or cold, and each async layer costs a
  // promise and a microtask (bench/core.ts measures this path against the raw client).
  #getSlow<T>(key: string): Promise<T | undefined> {
    try {
      this.#assertOpen()
      assertKey(key)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    if (this.#l1 !== undefined) this.#counters.l1Misses++
    return this.#readL2(key).then((entry) => {
      if (entry !== undefined && entry.freshUntil > this.#clock.now()) {
        this.#fillL1FromL2(key, entry)
        return entry.value as T
      }
      if (channels.miss.hasSubscribers) channels.miss.publish({ namespace: this.namespace, key })
      return undefined
    })
  }

  /** Like {@link TierCache.get}, with where the value came from. */
  async getEntry<T>(key: string): Promise<CacheResult<T> | undefined> {
    this.#assertOpen()
    assertKey(key)
    const l1 = this.#l1?.get(key)
    if (l1 !== undefined && l1.freshUntil > this.#clock.now()) {
      this.#counters.l1Hits++
      return { value: this.#l1Value(l1) as T, stale: false, source: 'l1' }
    }
    if (this.#l1 !== undefined) this.#counters.l1Misses++
    const l2 = await this.#readL2(key)
    if (l2 !== undefined && l2.freshUntil > this.#clock.now()) {
      this.#fillL1FromL2(key, l2)
      return { value: l2.value as T, stale: false, source: 'l2' }
    }
    return undefined
  }

  /**
   * Returns the fresh cached value, or runs `loader` once per key per process (concurrent callers
   * share the call), stores the result in every tier and returns it. With `grace`, a failing or
   * slow loader is answered with the last value instead; see {@link TierCache.getOrSetEntry} to see
   * whether that happened.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    const l1 = this.#l1
    if (l1 !== undefined && !this.#closed && isValidKey(key)) {
      const entry = l1.get(key)
      if (entry !== undefined) {
        const now = this.#clock.now()
        if (entry.freshUntil > now) {
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
    const l1 = this.#l1?.get(key)
    if (l1 !== undefined && l1.freshUntil > now) {
      this.#counters.l1Hits++
      return { value: this.#l1Value(l1), stale: false, source: 'l1' }
    }
    if (this.#l1 !== undefined) this.#counters.l1Misses++
    const flight = this.#flights.get(key)
    if (flight !== undefined) {
      this.#counters.coalesced++
      return flight.result
    }
    return this.#startFlight(key, loader, call, l1).result
  }

  /**
   * Starts the one load of `key`. `current` is the L1 entry being replaced (stale, or still fresh
   * for a refresh-ahead): an L2 entry answers the flight only if it is fresh and, for a refresh,
   * newer than `current` (another node refreshed first); otherwise the loader runs.
   */
  #startFlight(key: string, loader: Loader<unknown>, call: ResolvedCall, l1Stale: CacheEntry | undefined, refresh = false): Flight {
    let settle!: (result: Promise<CacheResult<unknown>>) => void
    const flight: Flight = {
      result: new Promise<CacheResult<unknown>>((resolve) => { settle = resolve }),
      invalidated: false,
    }
    this.#flights.set(key, flight)
    // The flight stays registered until the loader itself settles, even when callers were already
    // answered (soft timeout, hard timeout): a slow source gets one load at a time, not one per caller.
    const done = this.#runFlight(key, loader, call, l1Stale, flight, settle, refresh)
    void done.finally(() => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    })
    return flight
  }

  async #runFlight(key: string, loader: Loader<unknown>, call: ResolvedCall, l1Stale: CacheEntry | undefined, flight: Flight,
    settle: (result: Promise<CacheResult<unknown>>) => void, refresh: boolean): Promise<void> {
    let answered = false
    const answer = (result: CacheResult<unknown> | Promise<never>): void => {
      if (answered) return
      answered = true
      settle(Promise.resolve(result))
    }
    try {
      let stale: StaleCandidate | undefined = l1Stale !== undefined ? { entry: l1Stale, source: 'l1' } : undefined
      const l2 = await this.#readL2(key)
      const now = this.#clock.now()
      if (l2 !== undefined) {
        const usable = !refresh || l1Stale === undefined || l2.createdAt > l1Stale.createdAt
        if (usable && l2.freshUntil > now && !flight.invalidated) {
          this.#fillL1FromL2(key, l2)
          answer({ value: l2.value, stale: false, source: 'l2' })
          return
        }
        if (l2.staleUntil > now && (stale === undefined || l2.freshUntil > stale.entry.freshUntil)) stale = { entry: l2, source: 'l2' }
      }
      if (stale !== undefined && stale.entry.staleUntil <= now) stale = undefined

      const backoff = this.#backoffUntil.get(key)
      if (backoff !== undefined) {
        if (backoff > now && stale !== undefined) {
          answer(this.#serveStale(key, stale.entry, stale.source, 'backoff'))
          return
        }
        if (backoff <= now) this.#backoffUntil.delete(key)
      }

      await this.#load(key, loader, call, stale, flight, answer)
    } catch (error) {
      answer(rejectWith(error))
    }
  }

  async #load(key: string, loader: Loader<unknown>, call: ResolvedCall,
    stale: StaleCandidate | undefined, flight: Flight,
    answer: (result: CacheResult<unknown> | Promise<never>) => void): Promise<void> {
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
      return
    } finally {
      for (const timer of timers) this.#clock.clearTimeout(timer)
    }
    const loadMs = this.#clock.now() - started
    if (channels.load.hasSubscribers) {
      channels.load.publish({ namespace: this.namespace, key, durationMs: loadMs, ok: true, timedOut: controller.signal.aborted })
    }
    // Invalid values reject the callers and are written nowhere.
    const entry = this.#buildEntry(key, value, ttl, call.grace, call.tags, loadMs, version)
    this.#backoffUntil.delete(key)
    answer({ value, stale: false, source: 'loader' })
    if (flight.invalidated || this.#closed) return
    this.#writeL1(key, entry)
    await this.#writeL2(key, entry)
  }

  #serveStale(key: string, entry: CacheEntry, source: 'l1' | 'l2', reason: string): CacheResult<unknown> {
    this.#counters.staleServed++
    if (channels.stale.hasSubscribers) channels.stale.publish({ namespace: this.namespace, key, reason })
    return { value: source === 'l1' ? this.#l1Value(entry) : entry.value, stale: true, source }
  }

  #maybeRefresh(key: string, entry: CacheEntry, now: number, loader: Loader<unknown>, options: GetOrSetOptions): void {
    if (this.#flights.has(key)) return
    const mode = options.refreshAhead
    const ttl = entry.freshUntil - entry.createdAt
    let due: boolean
    if (mode === true) {
      // XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): expire early with a probability that
      // grows as expiry nears, scaled by how long a load takes; beta = 1 is optimal for one process.
      due = now - entry.loadMs * Math.log(Math.random()) >= entry.freshUntil
    } else if (typeof mode === 'number' && mode > 0 && mode < 1) {
      due = now - entry.createdAt >= ttl * mode
    } else {
      throw new InvalidOptionError('refreshAhead', 'a boolean or a number between 0 and 1', mode)
    }
    if (!due) return
    this.#counters.refreshes++
    const call = this.#resolveCall(key, options)
    const flight = this.#startFlight(key, loader, { ...call, softTimeout: undefined }, entry, true)
    flight.result.catch(() => { /* counted as a loader error; the current value stays */ })
  }

  /** Stores `value` in every tier. */
  async set(key: string, value: unknown, options?: EntryOptions): Promise<void> {
    this.#assertOpen()
    assertKey(key)
    const { ttl, grace } = resolveEntryOptions(this.#options, options)
    const tags = normalizeTags(options?.tags, key)
    const entry = this.#buildEntry(key, value, ttl, grace, tags, 0, undefined)
    this.#invalidateFlight(key)
    this.#writeL1(key, entry)
    await this.#writeL2(key, entry)
  }

  /**
   * Reads many keys: L1 first, then one L2 round trip for the rest (one per node on a Cluster).
   * Answers in the order of `keys`.
   */
  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    this.#assertOpen()
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys)
    for (const key of keys) assertKey(key)
    const out = new Array<T | undefined>(keys.length)
    const missing: number[] = []
    const now = this.#clock.now()
    for (let i = 0; i < keys.length; i++) {
      const entry = this.#l1?.get(keys[i] as string)
      if (entry !== undefined && entry.freshUntil > now) {
        this.#counters.l1Hits++
        out[i] = this.#l1Value(entry) as T
      } else {
        if (this.#l1 !== undefined) this.#counters.l1Misses++
        missing.push(i)
      }
    }
    if (missing.length === 0 || this.#l2Guard === undefined) return out
    const missingKeys = missing.map((i) => keys[i] as string)
    const entries = await this.#l2Call((store) => store.getMany(missingKeys), undefined)
    if (entries === undefined) return out
    const after = this.#clock.now()
    for (let j = 0; j < missing.length; j++) {
      const entry = entries[j]
      if (entry !== undefined && entry.freshUntil > after) {
        this.#counters.l2Hits++
        const key = missingKeys[j] as string
        this.#fillL1FromL2(key, entry)
        out[missing[j] as number] = entry.value as T
      } else {
        this.#counters.l2Misses++
      }
    }
    return out
  }

  /** Stores many values. Every item is validated first: one bad item rejects the call and nothing is written. */
  async setMany(items: readonly SetManyItem[]): Promise<void> {
    this.#assertOpen()
    if (!Array.isArray(items)) throw new InvalidOptionError('items', 'an array of { key, value }', items)
    const built: [string, CacheEntry][] = []
    for (const item of items) {
      if (!isRecord(item)) throw new InvalidOptionError('items[]', 'an object { key, value, ttl?, grace?, tags? }', item)
      assertKey(item.key)
      const { ttl, grace } = resolveEntryOptions(this.#options, item)
      built.push([item.key, this.#buildEntry(item.key, item.value, ttl, grace, normalizeTags(item.tags, item.key), 0, undefined)])
    }
    for (const [key, entry] of built) {
      this.#invalidateFlight(key)
      this.#writeL1(key, entry)
    }
    if (built.length > 0) await this.#l2Call((store) => store.setMany(built), undefined)
  }

  /** Removes a key from every tier. */
  async delete(key: string): Promise<void> {
    this.#assertOpen()
    assertKey(key)
    this.#invalidateFlight(key)
    this.#backoffUntil.delete(key)
    this.#l1?.delete(key)
    await this.#l2Call((store) => store.delete(key), false)
  }

  /** Reserved: tag invalidation arrives with the coherence layer. */
  invalidateTags(tags: readonly string[]): Promise<void> {
    normalizeTags(tags)
    return Promise.reject(new InvalidOptionError('invalidateTags', 'available in a later release (coherence layer)', 'a call'))
  }

  /** Counters per layer since creation. */
  stats(): CacheStats {
    const c = this.#counters
    const l1 = this.#l1?.stats()
    const guard = this.#l2Guard
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
    }
  }

  /** Closes owned connections and empties L1. Later calls reject with `E_CACHE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#l2Guard?.close()
    this.#l1?.close()
    this.#flights.clear()
    this.#backoffUntil.clear()
    if (this.#ownsL2) {
      const store = this.#l2 ?? (await this.#l2Pending?.catch(() => undefined))
      await store?.close()
    }
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

  #buildEntry(key: string, value: unknown, ttl: number, grace: number, tags: readonly string[], loadMs: number,
    version: number | undefined): CacheEntry {
    if (value === undefined) {
      throw new InvalidValueError('E_VALUE_UNDEFINED', key, 'undefined cannot be cached (use null to cache "no value")')
    }
    let serialized
    try {
      serialized = this.#serializer.serialize(value)
    } catch (error) {
      const reason = error instanceof UnserializableValueError ? error.message : String(error)
      throw new InvalidValueError('E_VALUE_NOT_SERIALIZABLE', key, `the value contains ${reason}`, { serializer: this.#serializer.name }, error)
    }
    const size = serialized.bytes.length
    if (size > this.#options.maxValueBytes) {
      throw new InvalidValueError('E_VALUE_TOO_LARGE', key,
        `the serialized value is ${size} bytes, over maxValueBytes (${this.#options.maxValueBytes})`, { size, maxValueBytes: this.#options.maxValueBytes })
    }
    const now = this.#clock.now()
    const freshUntil = now + ttl
    return {
      value: serialized.exact ? value : this.#serializer.deserialize(serialized.bytes),
      bytes: serialized.bytes,
      size,
      createdAt: now,
      freshUntil,
      staleUntil: freshUntil + grace,
      tags,
      version,
      loadMs,
    }
  }

  /** Copies an entry into L1 with the hard TTL cap applied (and without its bytes unless cloning). */
  #writeL1(key: string, entry: CacheEntry): void {
    const l1 = this.#l1
    if (l1 === undefined) return
    const cap = this.#clock.now() + this.#l1MaxTtl
    const staleUntil = Math.min(entry.staleUntil, cap)
    if (staleUntil <= this.#clock.now()) return
    l1.set(key, {
      value: this.#clone ? undefined : entry.value,
      bytes: this.#clone ? entry.bytes : undefined,
      size: entry.size,
      createdAt: entry.createdAt,
      freshUntil: Math.min(entry.freshUntil, staleUntil),
      staleUntil,
      tags: entry.tags,
      tagVersions: entry.tagVersions,
      version: entry.version,
      loadMs: entry.loadMs,
    })
  }

  /** An L2 hit is copied into L1, unless an invalidation of the key is racing the read. */
  #fillL1FromL2(key: string, entry: CacheEntry): void {
    if (this.#flights.get(key)?.invalidated === true) return
    this.#writeL1(key, entry)
  }

  async #writeL2(key: string, entry: CacheEntry): Promise<void> {
    await this.#l2Call((store) => store.set(key, entry), undefined)
  }

  #readL2(key: string): Promise<CacheEntry | undefined> {
    if (this.#l2Guard === undefined) return Promise.resolve(undefined)
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
    const pending = this.#l2Pending as Promise<CacheStore>
    return guard.run(async () => fn(await pending), fallback)
  }

  #l1Value(entry: CacheEntry): unknown {
    return this.#clone ? this.#serializer.deserialize(entry.bytes as Buffer) : entry.value
  }

  #invalidateFlight(key: string): void {
    const flight = this.#flights.get(key)
    if (flight !== undefined) flight.invalidated = true
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError(this.namespace)
  }
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
