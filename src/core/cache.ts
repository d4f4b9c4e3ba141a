import type { InvalidationBus } from '../ports/bus.js'
import type { Clock } from '../ports/clock.js'
import { isConnecting } from '../ports/connecting.js'
import type { CacheEntry } from '../ports/entry.js'
import type { LockStore } from '../ports/lock-store.js'
import type { L1Store } from '../ports/store.js'
import type { CacheResult, GetOrSetOptions, Invalidation, Loader, SetManyItem, SetOptions, SourceWrite, WriteThroughOptions } from './cache-types.js'
import type { ResolvedCall } from './call-options.js'
import { assertKnownKeys, isRecord, resolveCall, resolveEntryOptions } from './call-options.js'
import { Coherence } from './coherence.js'
import { EntryBuilder } from './entry-builder.js'
import { CacheClosedError, InvalidOptionError, LockError } from './errors.js'
import { Filler, rejectWith, servableAsStale } from './filler.js'
import { assertKey, isValidKey, normalizeTags } from './key.js'
import { FRESH, L1Tier, UNKNOWN } from './l1-tier.js'
import type { LockHandle, LockOptions } from './lock.js'
import { LocalLockStore, acquireLock } from './lock.js'
import type { PrefixInvalidationResult } from './prefix-invalidation.js'
import { readMany } from './read-many.js'
import { ReadRecorder } from './read-recorder.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import { StartGate } from './start-gate.js'
import type { CacheStats } from './stats.js'
import { collectStats } from './stats.js'
import { TagCheck } from './tag-check.js'
import { TagRegistry } from './tag-registry.js'
import type { TierGuard } from './tier-guard.js'
import type { ScoredKey, WarmOptions, WarmResult } from './warm.js'
import type { WriteBehindWriter } from './write-behind.js'
import type { WriteBehindOptions } from './write-behind-options.js'
import type { WriteQueues } from './write-patterns.js'
import { WritePatterns } from './write-patterns.js'
import { Writer } from './writer.js'

export type {
  CacheResult, GetOrSetOptions, Invalidation, Loader, LoaderContext, SetManyItem, SetOptions, SourceWrite, WriteContext, WriteThroughOptions,
} from './cache-types.js'

const INVALIDATION_KEYS: ReadonlySet<string> = new Set(['keys', 'tags', 'version'])

/** Array.isArray without its type guard (which turns a readonly string[] into any[]). */
function isList(value: unknown): boolean {
  return Array.isArray(value)
}

/**
 * Waits for `work` to settle, at most `ms` of wall-clock time. Not the injected clock: shutdown
 * must end even when that clock is not moving (fake timers in a test, a paused simulation).
 */
async function settleWithin(work: readonly Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const budget = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  await Promise.race([Promise.allSettled(work), budget])
  clearTimeout(timer)
}

/**
 * The tier objects a cache runs on, built by the composition root (`createCache`): the core never
 * constructs an adapter.
 */
export interface CacheTiers {
  /** The in-process store, or undefined without L1. */
  readonly l1: L1Store | undefined
  /** The shared tier (L2) behind its guard, or undefined without L2. */
  readonly shared: SharedTier | undefined
  /** The bus every node of the namespace follows, or undefined (a single node). */
  readonly bus: InvalidationBus | undefined
  /** The guard every publish on the bus goes through. */
  readonly busGuard: TierGuard | undefined
  /** What `close()` closes after the cache itself: the connections tiercache opened (never a client you passed). */
  readonly owned: readonly { close(): unknown }[]
  /** Opens write-behind queues on the shared tier (Redis), when it can hold them. */
  readonly queues?: WriteQueues | undefined
}

/**
 * A tiered cache: L1 in-process, L2 shared (Redis), a loader behind both, kept coherent across
 * nodes by an invalidation bus. Create it with `createCache`.
 */
export class TierCache {
  readonly namespace: string
  readonly #settings: CacheSettings
  readonly #clock: Clock
  readonly #l1: L1Tier
  /** The L1 store itself, read once per hit without going through the tier object. */
  readonly #l1Store: L1Store | undefined
  readonly #shared: SharedTier | undefined
  readonly #coherence: Coherence
  readonly #tags: TagCheck
  readonly #recorder: ReadRecorder
  readonly #builder: EntryBuilder
  readonly #filler: Filler
  readonly #writer: Writer
  readonly #patterns: WritePatterns
  readonly #localLocks: LocalLockStore
  readonly #gate: StartGate
  readonly #owned: readonly { close(): unknown }[]
  /** Writes and invalidations in flight: `close()` lets them finish (bounded). */
  readonly #writes = new Set<Promise<unknown>>()
  /** No new calls once set; loads in flight still finish their writes. */
  #closing = false
  /** Set once `close()` has waited for the work in flight: everything still running is dropped. */
  #closed = false
  #closedPromise: Promise<void> | undefined

  constructor(settings: CacheSettings, tiers: CacheTiers) {
    this.#settings = settings
    this.namespace = settings.namespace
    this.#clock = settings.clock
    this.#owned = tiers.owned
    this.#shared = tiers.shared
    this.#recorder = new ReadRecorder(settings.namespace)
    this.#builder = new EntryBuilder(settings.serializer, settings.maxValueBytes, settings.clock)
    this.#localLocks = new LocalLockStore(settings.clock)
    const registry = new TagRegistry()
    this.#l1 = new L1Tier(settings.l1 === false ? undefined : tiers.l1, {
      maxTtl: settings.l1 === false ? 0 : settings.l1.maxTtl,
      clone: settings.l1 !== false && settings.l1.clone,
      fencedTtl: settings.fencedTtl,
      serializer: settings.serializer,
      clock: settings.clock,
      tags: registry,
      recorder: this.#recorder,
    })
    this.#l1Store = this.#l1.store
    this.#tags = new TagCheck(registry, tiers.shared, tiers.bus)
    this.#coherence = new Coherence({ l1: this.#l1, shared: tiers.shared, bus: tiers.bus, busGuard: tiers.busGuard }, {
      clock: settings.clock, logger: settings.logger, namespace: settings.namespace, fencedTtl: settings.fencedTtl, tombstoneTtl: settings.tombstoneTtl,
    })
    this.#filler = new Filler(settings, {
      l1: this.#l1, shared: tiers.shared, tags: this.#tags, coherence: this.#coherence, recorder: this.#recorder, builder: this.#builder,
    }, () => this.#closed)
    this.#writer = new Writer(settings, { l1: this.#l1, shared: tiers.shared, tags: this.#tags, coherence: this.#coherence, builder: this.#builder })
    this.#patterns = new WritePatterns(settings, {
      l1: this.#l1, shared: tiers.shared, tags: this.#tags, coherence: this.#coherence, builder: this.#builder, writer: this.#writer, queues: tiers.queues,
    })
    const waits: Promise<boolean>[] = []
    if (tiers.shared !== undefined && isConnecting(tiers.shared.store)) waits.push(tiers.shared.whenConnected())
    if (isConnecting(tiers.bus)) waits.push(tiers.bus.whenConnected())
    this.#gate = new StartGate(waits, settings.connectTimeout, settings.clock)
  }

  /**
   * Resolves once the cache's tiers have connected (Redis, the bus), or the start budget
   * (`l2.connectTimeout`) has passed, or a tier is known to be down. Optional: calls made before
   * it resolves wait for the same thing, so correctness never depends on calling it. Useful to
   * start taking traffic only once the cache is ready.
   */
  ready(): Promise<void> {
    return this.#gate.pending ?? Promise.resolve()
  }

  /**
   * The invalidation bus this cache follows and publishes to (undefined for a single node without
   * one), for outer layers that follow the same invalidations: the browser layer's event stream
   * subscribes to it. Publish through `invalidate`, not on the bus directly.
   */
  get bus(): InvalidationBus | undefined {
    return this.#coherence.bus
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads a fresh value from L1, then L2. Resolves to `undefined` on a miss; never calls a loader
   * and never returns a stale value.
   */
  get<T>(key: string): Promise<T | undefined> {
    const store = this.#l1Store
    if (store !== undefined && !this.#closing && isValidKey(key)) {
      const entry = store.get(key)
      if (entry !== undefined && this.#l1.check(entry, this.#clock.now()) === FRESH) {
        this.#recorder.l1Hit(key)
        return Promise.resolve(this.#l1.value(entry) as T)
      }
      return this.#read(key, entry, true, false) as Promise<T | undefined>
    }
    return this.#read(key, undefined, false, false) as Promise<T | undefined>
  }

  /**
   * Reads L1 only, synchronously: the fresh value if this process holds it, else undefined. No
   * promise, no L2, no loader: for hot paths that can take a miss, and for inspecting a node.
   */
  peek<T>(key: string): T | undefined {
    if (this.#closing || !isValidKey(key)) return undefined
    const entry = this.#l1Store?.peek(key)
    if (entry === undefined || this.#l1.check(entry, this.#clock.now()) !== FRESH) return undefined
    return this.#l1.value(entry) as T
  }

  /** Like {@link TierCache.get}, with where the value came from. */
  getEntry<T>(key: string): Promise<CacheResult<T> | undefined> {
    return this.#read(key, undefined, false, true) as Promise<CacheResult<T> | undefined>
  }

  // Not async, and one `then` for the whole L2 read: an L2 hit is the hot path when L1 is off or
  // cold, and each extra promise layer costs (bench/core.ts measures it against the raw client).
  // `looked`: the caller already looked `key` up in L1 and found `entry` (a second lookup would
  // count the access twice in the eviction policy). Resolves to the value, or with `asResult` to a
  // CacheResult.
  #read(key: string, entry: CacheEntry | undefined, looked: boolean, asResult: boolean): Promise<unknown> {
    try {
      this.#assertOpen()
      assertKey(key)
    } catch (error) {
      return rejectWith(error)
    }
    const gate = this.#gate.pending
    // A call accepted before close() completes even if close() opens the gate meanwhile.
    if (gate !== undefined) return gate.then(() => this.#readAccepted(key, undefined, false, asResult))
    return this.#readAccepted(key, entry, looked, asResult)
  }

  #readAccepted(key: string, entry: CacheEntry | undefined, looked: boolean, asResult: boolean): Promise<unknown> {
    if (!looked) entry = this.#l1Store?.get(key)
    if (entry !== undefined) {
      const freshness = this.#l1.check(entry, this.#clock.now())
      if (freshness === FRESH) return Promise.resolve(this.#l1Hit(key, entry, asResult))
      if (freshness === UNKNOWN) {
        const found = entry
        return this.#tags.isCurrent(found).then((current) => current ? this.#l1Hit(key, found, asResult) : this.#readShared(key, asResult))
      }
    }
    return this.#readShared(key, asResult)
  }

  #l1Hit(key: string, entry: CacheEntry, asResult: boolean): unknown {
    this.#recorder.l1Hit(key)
    const value = this.#l1.value(entry)
    return asResult ? { value, stale: false, source: 'l1' } : value
  }

  /** After an L1 miss: L2 (waiting for the start gate first), or a miss. */
  #readShared(key: string, asResult: boolean): Promise<unknown> {
    if (this.#l1Store !== undefined) this.#recorder.l1Miss()
    const shared = this.#shared
    if (shared === undefined) {
      this.#recorder.miss(key)
      return Promise.resolve(undefined)
    }
    const stamp = this.#l1.stamp(key)
    return shared.get(key, (entry) => this.#afterL2Get(key, entry, stamp, asResult))
  }

  #afterL2Get(key: string, entry: CacheEntry | undefined, stamp: number, asResult: boolean): unknown {
    if (entry !== undefined && entry.freshUntil > this.#clock.now() && !this.#coherence.isPending(key)) {
      const state = this.#tags.registry.check(entry)
      if (state === 'valid') {
        this.#recorder.l2Hit(key)
        this.#l1.fill(key, entry, stamp)
        return asResult ? { value: entry.value, stale: false, source: 'l2' } : entry.value
      }
      if (state === 'unknown') {
        return this.#tags.isCurrent(entry).then((current) => this.#afterL2Get(key, current ? entry : undefined, stamp, asResult))
      }
    }
    this.#recorder.l2Miss()
    this.#recorder.miss(key)
    return undefined
  }

  /**
   * Returns the fresh cached value, or runs `loader` once per key (concurrent callers in this
   * process share the call; with Redis, processes share one through a fill lease), stores the
   * result in every tier and returns it. With `grace`, a failing or slow loader is answered with
   * the last value instead; see {@link TierCache.getOrSetEntry} to see whether that happened.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    const store = this.#l1Store
    if (store !== undefined && !this.#closing && isValidKey(key)) {
      const entry = store.get(key)
      if (entry !== undefined) {
        const now = this.#clock.now()
        if (this.#l1.check(entry, now) === FRESH) {
          // Options are checked on the hit path too: a bad option fails the same way whether or
          // not the key happens to be cached.
          let call: ResolvedCall | undefined
          try {
            if (typeof loader !== 'function') throw new InvalidOptionError('loader', 'a function', loader)
            if (options !== undefined) call = resolveCall(this.#settings, key, options)
          } catch (error) {
            return rejectWith(error)
          }
          this.#recorder.l1Hit(key)
          if (call !== undefined && call.refreshAhead !== false) this.#filler.maybeRefresh(key, entry, now, loader, call)
          return Promise.resolve(this.#l1.value(entry) as T)
        }
      }
      return this.#resolve(key, loader, options, entry, true).then((r) => r.value as T)
    }
    return this.#resolve(key, loader, options, undefined, false).then((r) => r.value as T)
  }

  /** {@link TierCache.getOrSet}, answering with the value, its source and whether it is stale. */
  getOrSetEntry<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<CacheResult<T>> {
    return this.#resolve(key, loader, options, undefined, false) as Promise<CacheResult<T>>
  }

  async #resolve(key: string, loader: Loader<unknown>, options: GetOrSetOptions | undefined, entry: CacheEntry | undefined,
    looked: boolean): Promise<CacheResult<unknown>> {
    this.#assertOpen()
    assertKey(key)
    if (typeof loader !== 'function') throw new InvalidOptionError('loader', 'a function', loader)
    const call = resolveCall(this.#settings, key, options)
    const gate = this.#gate.pending
    if (gate !== undefined) {
      await gate
      looked = false // the bus's first sync flushed L1 meanwhile
    }
    let l1 = looked ? entry : this.#l1Store?.get(key)
    const now = this.#clock.now()
    if (l1 !== undefined) {
      const freshness = this.#l1.check(l1, now)
      if (freshness === FRESH || (freshness === UNKNOWN && (await this.#tags.isCurrent(l1)))) {
        this.#recorder.l1Hit(key)
        if (call.refreshAhead !== false) this.#filler.maybeRefresh(key, l1, now, loader, call)
        return { value: this.#l1.value(l1), stale: false, source: 'l1' }
      }
      if (!servableAsStale(l1, now)) l1 = undefined
    }
    if (this.#l1Store !== undefined) this.#recorder.l1Miss()
    const flight = this.#filler.inFlight(key)
    if (flight !== undefined) {
      this.#recorder.counters.coalesced++
      this.#recorder.miss(key)
      return flight
    }
    return this.#filler.start(key, loader, call, l1, undefined)
  }

  // ---------------------------------------------------------------------------------------------
  // Writes and invalidation

  /** Stores `value` in every tier; other nodes drop their L1 copy. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    this.#assertOpen()
    assertKey(key)
    const { ttl, grace } = resolveEntryOptions(this.#settings, options, 'set')
    const tags = normalizeTags(options?.tags, key)
    const version = options?.version
    if (version !== undefined && !Number.isFinite(version)) throw new InvalidOptionError('version', 'a finite number', version)
    await this.#track(this.#started().then(() => this.#writer.set(key, value, { ttl, grace, tags, version })))
  }

  /** Stores many values. Every item is validated first: one bad item rejects the call and nothing is written. */
  async setMany(items: readonly SetManyItem[]): Promise<void> {
    this.#assertOpen()
    if (!Array.isArray(items)) throw new InvalidOptionError('items', 'an array of { key, value }', items)
    const specs: { key: string; value: unknown; ttl: number; grace: number; tags: readonly string[] }[] = []
    for (const item of items) {
      if (!isRecord(item)) throw new InvalidOptionError('items[]', 'an object { key, value, ttl?, grace?, tags? }', item)
      assertKey(item.key)
      const { ttl, grace } = resolveEntryOptions(this.#settings, item, 'setMany')
      specs.push({ key: item.key, value: item.value, ttl, grace, tags: normalizeTags(item.tags, item.key) })
    }
    await this.#track(this.#started().then(() => this.#writer.setMany(specs)))
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
    if (!isRecord(what)) throw new InvalidOptionError('invalidate', 'an object { keys?, tags?, version? }', what)
    assertKnownKeys(what, INVALIDATION_KEYS)
    const keys: readonly string[] = (what as Invalidation).keys ?? []
    if (!isList(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys)
    for (const key of keys) assertKey(key)
    const tags = normalizeTags(what.tags)
    const version = (what as Invalidation).version
    if (version !== undefined && !Number.isFinite(version)) throw new InvalidOptionError('version', 'a finite number', version)
    // This node stops serving the keys at once, before any I/O.
    for (const key of keys) {
      this.#l1.drop(key)
      this.#filler.forgetBackoff(key)
    }
    await this.#track(this.#started().then(() => this.#writer.invalidate(keys, tags, version)))
  }

  /**
   * A distributed lock (Redis when L2 is Redis, else in-process). Resolves to a handle with a
   * fencing token; rejects with `E_LOCK_TIMEOUT` if it stays held past `wait`.
   */
  async lock(name: string, options?: LockOptions): Promise<LockHandle> {
    this.#assertOpen()
    assertKey(name)
    await this.#started()
    let store: LockStore = this.#localLocks
    if (this.#shared !== undefined) {
      const locks = this.#shared.locks
      if (locks === undefined) throw new LockError('E_LOCK_UNAVAILABLE', 'this cache\'s L2 store does not support locks', { lock: name })
      store = locks
    }
    try {
      return await acquireLock(store, this.#clock, name, options, (ms) => new Promise((r) => this.#clock.setTimeout(r, ms)))
    } catch (error) {
      if (error instanceof LockError || (error as { code?: string }).code === 'E_INVALID_OPTION') throw error
      throw new LockError('E_LOCK_UNAVAILABLE', `lock "${name}" could not be taken: ${(error as Error).message}`, { lock: name })
    }
  }

  /**
   * Reads many keys: L1 first, then one L2 round trip for the rest (one per node on a Cluster).
   * Answers in order, with `undefined` for each miss (a dense array: no holes).
   */
  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    this.#assertOpen()
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys)
    for (const key of keys) assertKey(key)
    await this.#started()
    return readMany<T>({ l1: this.#l1, shared: this.#shared, tags: this.#tags, coherence: this.#coherence, recorder: this.#recorder, clock: this.#clock }, keys)
  }

  // ---------------------------------------------------------------------------------------------
  // Write patterns (docs/write-patterns.md)

  /**
   * Write-through: runs `write` (your source-of-truth write; it returns the committed value and
   * reports its version with `ctx.setVersion`), then updates the cache, fenced like a fill: an
   * older version never overwrites a newer one, and an invalidation of the key during the write
   * wins. If `write` throws, the cache is untouched and the error is yours. If the cache cannot be
   * updated, the key is invalidated everywhere instead (retried until Redis confirms).
   */
  async writeThrough<T>(key: string, write: SourceWrite<T>, options?: WriteThroughOptions): Promise<T> {
    this.#assertOpen()
    const run = this.#patterns.writeThrough(key, write, options)
    return this.#track(this.#started().then(run))
  }

  /**
   * Opens a durable write-behind writer on the queue `name`, shared by every process that opens it:
   * `write` resolves once the write is durable in Redis and shown by the cache; flushers call
   * `flush` with batches coalesced per key, retry, move poison writes to dead letters and take over
   * the work of flushers that died. Needs L2 on Redis, or a `queue` of your own.
   */
  writeBehind<T = unknown>(name: string, options: WriteBehindOptions<T>): WriteBehindWriter<T> {
    this.#assertOpen()
    return this.#patterns.writeBehind(name, options)
  }

  /**
   * Warms the cache: loads `keys` (an array or an async iterable) with at most `concurrency` loads
   * in flight, skipping keys already fresh (so a cancelled run resumes), writing L2 in batches under
   * fill leases. Resolves with the counts (also reported to `onProgress`); `signal` cancels.
   */
  async warm(keys: Iterable<string> | AsyncIterable<string>, loader: Loader<unknown>, options?: WarmOptions): Promise<WarmResult> {
    this.#assertOpen()
    const run = this.#patterns.warm(keys, loader, options)
    return this.#started().then(run)
  }

  /** Warms the `n` keys of highest `score` among `items`, highest first (see {@link TierCache.warm}). */
  async warmTop(items: Iterable<ScoredKey>, n: number, loader: Loader<unknown>, options?: WarmOptions): Promise<WarmResult> {
    this.#assertOpen()
    const run = this.#patterns.warmTop(items, n, loader, options)
    return this.#started().then(run)
  }

  /**
   * Removes every key starting with `prefix` from every tier and every node: L2 with cursor SCAN and
   * UNLINK in bounded batches on every master (never KEYS), fill leases first so that fills started
   * before the call cannot write back, then every node's L1 through the bus.
   */
  async invalidatePrefix(prefix: string): Promise<PrefixInvalidationResult> {
    this.#assertOpen()
    const run = this.#patterns.invalidatePrefix(prefix)
    return this.#track(this.#started().then(run))
  }

  /** Counters per layer since creation. */
  stats(): CacheStats {
    return collectStats(this.namespace, this.#recorder.counters, this.#l1, this.#shared, this.#coherence, this.#patterns.pendingPrefixes)
  }

  /**
   * Closes the cache. New calls reject with `E_CACHE_CLOSED` at once. Writes and invalidations
   * already in flight get up to `l2.connectTimeout` to finish, and unconfirmed invalidations one
   * last attempt. Loads in flight still answer their callers, but no longer write any tier; their
   * fill leases are given back at once so other processes load the key instead of waiting for
   * this one. Then owned connections close and L1 is emptied.
   */
  close(): Promise<void> {
    this.#closedPromise ??= this.#close()
    return this.#closedPromise
  }

  async #close(): Promise<void> {
    this.#closing = true
    this.#gate.open()
    await this.#patterns.closeWriters()
    if (this.#writes.size > 0) await settleWithin([...this.#writes], this.#settings.connectTimeout)
    this.#closed = true
    await this.#filler.releaseHeld()
    this.#patterns.close()
    await this.#coherence.close()
    this.#shared?.guard.close()
    this.#filler.clear()
    this.#l1.close()
    for (const resource of this.#owned) await resource.close()
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /**
   * Waits for the start gate (the first calls of a new cache). A call accepted before close()
   * goes on after it: close() opens the gate and then waits for the writes it tracks.
   */
  async #started(): Promise<void> {
    await this.#gate.pending
  }

  /** Runs a write so that `close()` can wait for it. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#writes.add(work)
    const done = (): void => { this.#writes.delete(work) }
    work.then(done, done)
    return work
  }

  #assertOpen(): void {
    if (this.#closing) throw new CacheClosedError(this.namespace)
  }
}
