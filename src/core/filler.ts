import { randomBytes } from 'node:crypto'
import type { CacheResult, GetOrSetOptions, Loader, LoaderContext } from './cache-types.js'
import type { Clock } from '../ports/clock.js'
import type { Coherence } from './coherence.js'
import type { CacheEntry } from '../ports/entry.js'
import { InvalidOptionError, LoaderTimeoutError } from './errors.js'
import { normalizeTags } from './key.js'
import type { ResolvedOptions } from './options.js'
import { positiveDuration, resolveEntryOptions } from './options.js'
import { parseDuration } from './duration.js'
import type { SharedTier } from './shared-tier.js'
import type { Counters } from './stats.js'
import { channels } from './telemetry.js'
import type { CoherentStore, LeaseRead } from '../ports/coherent-store.js'
import type { CacheStore } from '../ports/store.js'

/** What the loading machinery needs from the cache it serves. */
export interface FillHost {
  readonly namespace: string
  readonly options: ResolvedOptions
  readonly counters: Counters
  readonly coherence: Coherence
  readonly shared: SharedTier | undefined
  isClosed(): boolean
  /** Copies an entry into L1 unless the key was invalidated since `stamp`. */
  fillL1(key: string, entry: CacheEntry, stamp: number): void
  /** What a caller receives for an L1 entry (the value, or a copy with `clone`). */
  l1Value(entry: CacheEntry): unknown
  build(key: string, value: unknown, spec: { ttl: number; grace: number; tags: readonly string[]; tagVersions: readonly number[] | undefined; loadMs: number; version: number | undefined }): CacheEntry
  isCurrent(entry: CacheEntry): Promise<boolean>
  currentTagVersions(tags: readonly string[]): Promise<number[]>
}

/** A `getOrSet` call's options, resolved. */
export interface ResolvedCall {
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
 * Loads: one loader call per key per process (concurrent callers share a flight), one per key
 * across processes through an L2 fill lease, with soft and hard timeouts, fail-safe (stale within
 * grace, then back-off), refresh-ahead, and fills fenced against invalidations that land while the
 * load runs (generation stamp in L1, lease in L2).
 */
export class Filler {
  readonly #host: FillHost
  readonly #clock: Clock
  /** Loads in flight, by key: concurrent callers share one. */
  readonly #flights = new Map<string, Promise<CacheResult<unknown>>>()
  /** Keys whose loader failed recently: no new load before this time while a stale value exists. */
  readonly #backoffUntil = new Map<string, number>()

  constructor(host: FillHost) {
    this.#host = host
    this.#clock = host.options.clock
  }

  /** The flight already loading `key`, if any. */
  inFlight(key: string): Promise<CacheResult<unknown>> | undefined {
    return this.#flights.get(key)
  }

  /** Forgets a failed load's back-off (the key was invalidated: the next read may load again). */
  forgetBackoff(key: string): void {
    this.#backoffUntil.delete(key)
  }

  clear(): void {
    this.#flights.clear()
    this.#backoffUntil.clear()
  }

  /**
   * Starts the one load of `key` in this process. `current` is the L1 entry being replaced (stale,
   * or still fresh for a refresh-ahead: then an L2 entry counts only if newer).
   */
  start(key: string, loader: Loader<unknown>, call: ResolvedCall, current: CacheEntry | undefined,
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
    const stamp = this.#host.coherence.generations.stamp(key)
    const tagVersions = call.tags.length === 0 ? undefined : await this.#host.currentTagVersions(call.tags)
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
      !this.#host.coherence.isPending(key) && (await this.#host.isCurrent(entry))

    let lease: string | undefined
    const store = this.#host.shared?.coherent
    if (store !== undefined && this.#host.options.lease !== false) {
      const leaseOptions = this.#host.options.lease
      const token = randomBytes(12).toString('hex')
      const read = async (force: boolean): Promise<LeaseRead | undefined> =>
        this.#l2Call(() => store.readForFill(key, token, leaseOptions.ttl, this.#clock.now(), force), undefined)
      let r = await read(false)
      if (r?.status === 'fresh') {
        if (await usable(r.entry)) {
          this.#host.counters.l2Hits++
          this.#host.fillL1(key, r.entry, stamp)
          answer({ value: r.entry.value, stale: false, source: 'l2' })
          return
        }
        consider(r.entry)
        r = await read(true)
      } else if (r !== undefined) {
        this.#host.counters.l2Misses++
      }
      if (r !== undefined && r.status !== 'fresh') {
        consider(r.entry)
        if (r.status === 'acquired') {
          lease = token
        } else {
          // Another process holds the lease and is loading. A refresh-ahead leaves it to them; a
          // caller with a stale value takes it now; the others wait (bounded) for the value.
          if (refreshing !== undefined) {
            answer({ value: this.#host.l1Value(refreshing), stale: false, source: 'l1' })
            return
          }
          if (stale !== undefined) {
            answer(this.#serveStale(key, stale.entry, stale.source, 'lease-held'))
            return
          }
          const waited = await this.#waitForFill(key, leaseOptions.wait, usable, read)
          if (waited !== 'lease' && waited !== 'timeout') {
            this.#host.fillL1(key, waited, stamp)
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
    } else if (this.#host.shared !== undefined) {
      const l2 = await this.#readL2(key)
      if (l2 !== undefined && (await usable(l2))) {
        this.#host.fillL1(key, l2, stamp)
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
    while (this.#clock.now() < deadline && !this.#host.isClosed()) {
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, Math.min(pause, Math.max(1, deadline - this.#clock.now()))))
      pause = Math.min(Math.ceil(pause * 1.5), 50)
      let r = await read(false)
      if (r === undefined) return 'timeout'
      if (r.status === 'fresh') {
        if (await usable(r.entry)) {
          this.#host.counters.l2Hits++
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
        this.#host.counters.loaderTimeouts++
        controller.abort(new LoaderTimeoutError(key, timeout))
        if (stale !== undefined) answer(this.#serveStale(key, stale.entry, stale.source, 'hard-timeout'))
        else answer(Promise.reject(new LoaderTimeoutError(key, timeout)))
      }, timeout))
    }

    this.#host.counters.loaderCalls++
    const started = this.#clock.now()
    let value: unknown
    try {
      value = await loader(context)
    } catch (error) {
      this.#host.counters.loaderErrors++
      if (channels.load.hasSubscribers) {
        channels.load.publish({ namespace: this.#host.namespace, key, durationMs: this.#clock.now() - started, ok: false, timedOut: controller.signal.aborted })
      }
      const now = this.#clock.now()
      if (stale !== undefined && stale.entry.staleUntil > now) {
        this.#backoffUntil.set(key, now + this.#host.options.graceBackoff)
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
      channels.load.publish({ namespace: this.#host.namespace, key, durationMs: loadMs, ok: true, timedOut: controller.signal.aborted })
    }
    let entry: CacheEntry
    try {
      // Invalid values reject the callers and are written nowhere.
      entry = this.#host.build(key, value, { ttl, grace: call.grace, tags: call.tags, tagVersions: fill.tagVersions, loadMs, version })
    } catch (error) {
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      throw error
    }
    this.#backoffUntil.delete(key)
    answer({ value, stale: false, source: 'loader' })
    if (this.#host.isClosed()) return
    // Invalidated here while loading (a delete, a set, a bus message): the value may predate it.
    if (this.#host.coherence.generations.changed(key, fill.stamp)) {
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      return
    }
    const lease = fill.lease
    if (lease !== undefined) {
      const store = this.#host.shared?.coherent as CoherentStore
      const written = await this.#l2Call(() => store.fillWithLease(key, entry, lease), undefined)
      // 'lost' or 'outdated': another node invalidated the key while we loaded; keep it out of L1 too.
      // undefined: L2 failed; L1 is still guarded by the generation stamp and the bus fence.
      if (written === 'lost' || written === 'outdated') return
      this.#host.fillL1(key, entry, fill.stamp)
    } else {
      this.#host.fillL1(key, entry, fill.stamp)
      if (fill.plainL2) await this.#l2Call((store) => store.set(key, entry), undefined)
    }
  }

  #serveStale(key: string, entry: CacheEntry, source: 'l1' | 'l2', reason: string): CacheResult<unknown> {
    this.#host.counters.staleServed++
    if (channels.stale.hasSubscribers) channels.stale.publish({ namespace: this.#host.namespace, key, reason })
    return { value: source === 'l1' ? this.#host.l1Value(entry) : entry.value, stale: true, source }
  }

  maybeRefresh(key: string, entry: CacheEntry, now: number, loader: Loader<unknown>, options: GetOrSetOptions): void {
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
    this.#host.counters.refreshes++
    const call = this.resolveCall(key, options)
    this.start(key, loader, { ...call, softTimeout: undefined }, entry, entry)
      .catch(() => { /* counted as a loader error; the current value stays */ })
  }

  /** Per-call options over the cache's defaults, validated. */
  resolveCall(key: string, options: GetOrSetOptions | undefined): ResolvedCall {
    const o = this.#host.options
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

  #readL2(key: string): Promise<CacheEntry | undefined> {
    return this.#l2Call((store) => store.get(key), undefined).then((entry) => {
      if (entry !== undefined && entry.freshUntil > this.#clock.now()) {
        this.#host.counters.l2Hits++
        if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.#host.namespace, key, tier: 'l2' })
      } else {
        this.#host.counters.l2Misses++
      }
      return entry
    })
  }

  async #releaseLease(key: string, token: string): Promise<void> {
    const store = this.#host.shared?.coherent
    if (store !== undefined) await this.#l2Call(() => store.releaseLease(key, token), undefined)
  }

  /** Every L2 call goes through the shared tier's guard: a budget, a breaker and a fallback. */
  #l2Call<T, F>(fn: (store: CacheStore) => T | Promise<T>, fallback: F): Promise<T | F> {
    return this.#host.shared?.call(fn, fallback) ?? Promise.resolve(fallback)
  }
}

/**
 * Whether an entry that cannot be served as fresh may be served as stale (fail-safe, soft timeout,
 * another process loading). Past its freshness: while within grace. Still fresh by time, it was
 * invalidated (a tag): only if it has grace at all; with grace 0 an invalidated value is never served.
 */
export function servableAsStale(entry: CacheEntry, now: number): boolean {
  return entry.staleUntil > now && (entry.freshUntil <= now || entry.staleUntil > entry.freshUntil)
}

/** The loader's own error reaches the caller unchanged, whatever it is (it may not be an Error). */
export function rejectWith(error: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
  return Promise.reject(error)
}

