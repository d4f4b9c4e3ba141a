import { randomBytes } from 'node:crypto'
import type { TimerHandle } from '../ports/clock.js'
import type { CoherentStore, LeaseRead } from '../ports/coherent-store.js'
import type { CacheEntry } from '../ports/entry.js'
import type { CacheResult, Loader, LoaderContext } from './cache-types.js'
import type { ResolvedCall } from './call-options.js'
import type { Coherence } from './coherence.js'
import { parseDuration } from './duration.js'
import type { EntryBuilder } from './entry-builder.js'
import { InvalidOptionError, LoaderTimeoutError } from './errors.js'
import type { L1Tier } from './l1-tier.js'
import type { ReadRecorder } from './read-recorder.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import type { TagCheck } from './tag-check.js'

/** The tier objects a {@link Filler} works on. */
export interface FillerTiers {
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly tags: TagCheck
  readonly coherence: Coherence
  readonly recorder: ReadRecorder
  readonly builder: EntryBuilder
}

interface StaleCandidate {
  readonly entry: CacheEntry
  readonly source: 'l1' | 'l2'
}

/** A lease read that was never sent (breaker open, connection known down): no lease can be held. */
const NOT_SENT = Symbol('not sent')
/** A lease read that went unanswered: it may have run, and taken the lease. */
const UNKNOWN = Symbol('unknown')

type Answer = (result: CacheResult<unknown> | Promise<never>) => void

/** What the shared-tier phase of a flight decided. */
type SharedOutcome =
  /** The callers were answered (a fresh L2 entry, a value another process filled, a stale value). */
  | { readonly answered: true; readonly lease: string | undefined }
  /** Load: with `lease` (this flight holds the fill lease) or without (no lease store, or it failed). */
  | { readonly answered: false; readonly lease: string | undefined }

/** Everything a load needs to know about the flight it runs in. */
interface Fill {
  readonly stale: StaleCandidate | undefined
  readonly stamp: number
  readonly lease: string | undefined
  readonly tagVersions: number[] | undefined
  /** The shared tier has no leases: write it with a plain set. */
  readonly plainL2: boolean
}

/**
 * Loads: one loader call per key per process (concurrent callers share a flight), one per key
 * across processes through an L2 fill lease, with soft and hard timeouts, fail-safe (stale within
 * grace, then back-off), refresh-ahead, and fills fenced against invalidations that land while the
 * load runs (generation stamp in L1, lease in L2).
 */
export class Filler {
  readonly #settings: CacheSettings
  readonly #l1: L1Tier
  readonly #shared: SharedTier | undefined
  readonly #tags: TagCheck
  readonly #coherence: Coherence
  readonly #recorder: ReadRecorder
  readonly #builder: EntryBuilder
  readonly #isClosed: () => boolean
  /** Loads in flight, by key: concurrent callers share one. */
  readonly #flights = new Map<string, Promise<CacheResult<unknown>>>()
  /** Keys whose loader failed recently: no new load before this time while a stale value exists. */
  readonly #backoffUntil = new Map<string, number>()
  /**
   * Lease tokens whose fate is unknown: a lease read, fill or release that timed out or failed may
   * still have run in Redis, leaving the lease held by this process with no flight to fill it. The
   * next flight for the key reuses the token, and the lease script treats "held by my own token" as
   * acquired, so this process's callers never wait out a lease it holds itself.
   */
  readonly #orphans = new Map<string, string>()
  /** Leases held by loads in flight, by key. */
  readonly #held = new Map<string, string>()
  /** Timers of orphaned-lease releases waiting to be retried. */
  readonly #retries = new Set<TimerHandle>()

  constructor(settings: CacheSettings, tiers: FillerTiers, isClosed: () => boolean) {
    this.#settings = settings
    this.#l1 = tiers.l1
    this.#shared = tiers.shared
    this.#tags = tiers.tags
    this.#coherence = tiers.coherence
    this.#recorder = tiers.recorder
    this.#builder = tiers.builder
    this.#isClosed = isClosed
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
    for (const timer of this.#retries) this.#settings.clock.clearTimeout(timer)
    this.#retries.clear()
    this.#flights.clear()
    this.#backoffUntil.clear()
    this.#orphans.clear()
    this.#held.clear()
  }

  /**
   * Gives back every fill lease a load in flight holds (the cache is closing: those loads will not
   * write L2, so other processes should not wait for them).
   */
  async releaseHeld(): Promise<void> {
    const store = this.#shared?.coherent
    if (store === undefined || this.#held.size === 0) return
    const held = [...this.#held]
    this.#held.clear()
    await Promise.all(held.map(([key, token]) => this.#l2Call(() => store.releaseLease(key, token), undefined)))
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
    // A real stamp even without L1: an invalidation during the load also keeps a lease-less fill out of L2.
    const stamp = this.#l1.generations.stamp(key)
    const tagVersions = call.tags.length === 0 ? undefined : await this.#tags.current(call.tags)
    const candidates: { stale: StaleCandidate | undefined } = { stale: current !== undefined ? { entry: current, source: 'l1' } : undefined }
    let lease: string | undefined
    if (this.#shared !== undefined) {
      const coherent = this.#shared.coherent
      const outcome = coherent !== undefined && this.#settings.lease !== false
        ? await this.#readWithLease(key, coherent, this.#settings.lease, stamp, refreshing, candidates, answer)
        : await this.#readPlain(key, stamp, refreshing, candidates, answer)
      if (outcome.answered) {
        if (outcome.lease !== undefined) await this.#releaseLease(key, outcome.lease)
        return
      }
      lease = outcome.lease
      if (lease !== undefined) this.#held.set(key, lease)
    } else {
      this.#recorder.miss(key)
    }
    const stale = candidates.stale
    const now = this.#settings.clock.now()
    const backoff = this.#backoffUntil.get(key)
    if (backoff !== undefined) {
      if (backoff > now && stale !== undefined) {
        answer(this.#serveStale(key, stale.entry, stale.source, 'backoff'))
        if (lease !== undefined) await this.#releaseLease(key, lease)
        return
      }
      if (backoff <= now) this.#backoffUntil.delete(key)
    }
    const plainL2 = this.#shared !== undefined && (this.#shared.coherent === undefined || this.#settings.lease === false)
    await this.#load(key, loader, call, { stale, stamp, lease, tagVersions, plainL2 }, answer)
  }

  /**
   * The lease-read phase: reads L2 for the fill and takes the fill lease when nothing fresh is
   * there. Answers the callers itself when L2 has a usable value, when another process is loading
   * and a stale value can be served, or when that process delivers in time.
   */
  async #readWithLease(key: string, store: CoherentStore, lease: { ttl: number; wait: number }, stamp: number,
    refreshing: CacheEntry | undefined, candidates: { stale: StaleCandidate | undefined }, answer: Answer): Promise<SharedOutcome> {
    const token = this.#orphans.get(key) ?? randomBytes(12).toString('hex')
    this.#orphans.delete(key)
    const usable = (entry: CacheEntry): Promise<boolean> => this.#usable(key, entry, refreshing)
    const once = (force: boolean): Promise<LeaseRead | typeof NOT_SENT | typeof UNKNOWN> =>
      (this.#shared as SharedTier).guard.run(() => store.readForFill(key, token, lease.ttl, this.#settings.clock.now(), force), UNKNOWN, NOT_SENT)
    // A read that went unanswered (a timeout, a dropped connection) may still have run and taken
    // the lease for `token`. Asking once more tells: the script counts a lease held by the same
    // token as acquired, and only a lease known to be held before the load starts fences the fill
    // (an invalidation between a load and a late lease would not void it). Still unanswered: load
    // without a lease, and give the token back in the background.
    const read = async (force: boolean): Promise<LeaseRead | typeof NOT_SENT | typeof UNKNOWN> => {
      const first = await once(force)
      if (first !== UNKNOWN) return first
      const second = await once(force)
      if (second === UNKNOWN) this.#orphan(key, token)
      return second
    }
    let r = await read(false)
    if (typeof r === 'object' && r.status === 'fresh') {
      if (await usable(r.entry)) {
        this.#recorder.l2Hit(key)
        this.#l1.fill(key, r.entry, stamp)
        answer({ value: r.entry.value, stale: false, source: 'l2' })
        return { answered: true, lease: undefined }
      }
      this.#consider(candidates, r.entry)
      r = await read(true)
    }
    this.#recorder.miss(key)
    if (r === NOT_SENT || r === UNKNOWN || r.status === 'fresh') return { answered: false, lease: undefined }
    this.#recorder.l2Miss()
    this.#consider(candidates, r.entry)
    if (r.status === 'acquired') return { answered: false, lease: token }
    // Another process holds the lease and is loading. A refresh-ahead leaves it to them; a caller
    // with a stale value takes it now; the others wait (bounded) for the value.
    if (refreshing !== undefined) {
      answer({ value: this.#l1.value(refreshing), stale: false, source: 'l1' })
      return { answered: true, lease: undefined }
    }
    const stale = candidates.stale
    if (stale !== undefined) {
      answer(this.#serveStale(key, stale.entry, stale.source, 'lease-held'))
      return { answered: true, lease: undefined }
    }
    const waited = await this.#waitForFill(key, lease.wait, usable, read)
    if (typeof waited === 'object') {
      this.#l1.fill(key, waited, stamp)
      answer({ value: waited.value, stale: false, source: 'l2' })
      return { answered: true, lease: undefined }
    }
    // 'lease': the holder gave up (its load failed) and this caller took the lease over.
    // 'timeout': the holder did not deliver in time (it died, or its load is slow), or L2 stopped
    // answering: load anyway, but without a lease do not write L2 (an unfenced write could outlive
    // an invalidation).
    return { answered: false, lease: waited === 'lease' ? token : undefined }
  }

  /** The shared-tier phase without leases: a plain read. */
  async #readPlain(key: string, stamp: number, refreshing: CacheEntry | undefined, candidates: { stale: StaleCandidate | undefined },
    answer: Answer): Promise<SharedOutcome> {
    const entry = await this.#l2Call((store) => store.get(key), undefined)
    if (entry !== undefined && (await this.#usable(key, entry, refreshing))) {
      this.#recorder.l2Hit(key)
      this.#l1.fill(key, entry, stamp)
      answer({ value: entry.value, stale: false, source: 'l2' })
      return { answered: true, lease: undefined }
    }
    this.#recorder.l2Miss()
    this.#recorder.miss(key)
    this.#consider(candidates, entry)
    return { answered: false, lease: undefined }
  }

  /**
   * An L2 entry is usable if fresh, current (tags), newer than what a refresh replaces, and not a
   * key this node invalidated while L2 was unreachable (L2 may still hold the old value).
   */
  async #usable(key: string, entry: CacheEntry, refreshing: CacheEntry | undefined): Promise<boolean> {
    return entry.freshUntil > this.#settings.clock.now() && (refreshing === undefined || entry.createdAt > refreshing.createdAt) &&
      !this.#coherence.isPending(key) && (await this.#tags.isCurrent(entry))
  }

  /** Keeps the freshest servable-as-stale entry seen, for fail-safe. */
  #consider(candidates: { stale: StaleCandidate | undefined }, entry: CacheEntry | undefined): void {
    const stale = candidates.stale
    if (entry !== undefined && servableAsStale(entry, this.#settings.clock.now()) && (stale === undefined || entry.freshUntil > stale.entry.freshUntil)) {
      candidates.stale = { entry, source: 'l2' }
    }
  }

  /**
   * Waits for another process's fill: polls the lease read until a usable entry lands, the lease
   * frees up (taken over: 'lease'), or `waitMs` passes ('timeout').
   */
  async #waitForFill(key: string, waitMs: number, usable: (entry: CacheEntry) => Promise<boolean>,
    read: (force: boolean) => Promise<LeaseRead | typeof NOT_SENT | typeof UNKNOWN>): Promise<CacheEntry | 'lease' | 'timeout'> {
    const clock = this.#settings.clock
    const deadline = clock.now() + waitMs
    let pause = 5
    while (clock.now() < deadline && !this.#isClosed()) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(pause, Math.max(1, deadline - clock.now()))))
      pause = Math.min(Math.ceil(pause * 1.5), 50)
      let r = await read(false)
      if (r === NOT_SENT || r === UNKNOWN) return 'timeout'
      if (r.status === 'fresh') {
        if (await usable(r.entry)) {
          this.#recorder.l2Hit(key)
          return r.entry
        }
        r = await read(true)
        if (r === NOT_SENT || r === UNKNOWN) return 'timeout'
      }
      if (r.status === 'acquired') return 'lease'
    }
    return 'timeout'
  }

  async #load(key: string, loader: Loader<unknown>, call: ResolvedCall, fill: Fill, answer: Answer): Promise<void> {
    const { stale } = fill
    const clock = this.#settings.clock
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
      timers.push(clock.setTimeout(() => {
        answer(this.#serveStale(key, stale.entry, stale.source, 'soft-timeout'))
      }, call.softTimeout))
    }
    if (call.timeout !== undefined) {
      const timeout = call.timeout
      timers.push(clock.setTimeout(() => {
        this.#recorder.counters.loaderTimeouts++
        controller.abort(new LoaderTimeoutError(key, timeout))
        if (stale !== undefined) answer(this.#serveStale(key, stale.entry, stale.source, 'hard-timeout'))
        else answer(Promise.reject(new LoaderTimeoutError(key, timeout)))
      }, timeout))
    }

    const counters = this.#recorder.counters
    counters.loaderCalls++
    const started = clock.now()
    let value: unknown
    try {
      value = await loader(context)
    } catch (error) {
      counters.loaderErrors++
      this.#recorder.load(key, clock.now() - started, false, controller.signal.aborted)
      const now = clock.now()
      if (stale !== undefined && stale.entry.staleUntil > now) {
        this.#backoffUntil.set(key, now + this.#settings.graceBackoff)
        answer(this.#serveStale(key, stale.entry, stale.source, 'loader-error'))
      } else {
        answer(rejectWith(error))
      }
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      return
    } finally {
      for (const timer of timers) clock.clearTimeout(timer)
    }
    const loadMs = clock.now() - started
    this.#recorder.load(key, loadMs, true, controller.signal.aborted)
    let entry: CacheEntry
    try {
      // Invalid values reject the callers and are written nowhere.
      entry = this.#builder.build(key, value, { ttl, grace: call.grace, tags: call.tags, tagVersions: fill.tagVersions, loadMs, version,
        maxLifetime: call.tags.length === 0 ? Number.POSITIVE_INFINITY : this.#settings.tagTtl })
    } catch (error) {
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      throw error
    }
    this.#backoffUntil.delete(key)
    answer({ value, stale: false, source: 'loader' })
    // Closed meanwhile: the lease was given back at close, nothing is written.
    if (this.#isClosed()) return
    // Invalidated here while loading (a delete, a set, a bus message, the bus's first sync): the
    // value may predate it.
    if (this.#l1.generations.changed(key, fill.stamp)) {
      if (fill.lease !== undefined) await this.#releaseLease(key, fill.lease)
      return
    }
    const lease = fill.lease
    if (lease !== undefined) {
      const store = this.#shared?.coherent as CoherentStore
      const written = await this.#l2Call(() => store.fillWithLease(key, entry, lease), undefined)
      if (this.#held.get(key) === lease) this.#held.delete(key)
      // 'lost' or 'outdated': another node invalidated the key while we loaded; keep it out of L1 too.
      // undefined: L2 failed (the script may still have run); L1 stays guarded by the generation
      // stamp and the bus fence.
      if (written === undefined) this.#orphan(key, lease)
      if (written === 'lost' || written === 'outdated') return
      this.#l1.fill(key, entry, fill.stamp)
    } else {
      this.#l1.fill(key, entry, fill.stamp)
      if (fill.plainL2) await this.#l2Call((store) => store.set(key, entry), undefined)
    }
  }

  #serveStale(key: string, entry: CacheEntry, source: 'l1' | 'l2', reason: string): CacheResult<unknown> {
    this.#recorder.stale(key, reason)
    return { value: source === 'l1' ? this.#l1.value(entry) : entry.value, stale: true, source }
  }

  /** Starts a background refresh of `key` when refresh-ahead says it is due (never on the caller's time). */
  maybeRefresh(key: string, entry: CacheEntry, now: number, loader: Loader<unknown>, call: ResolvedCall): void {
    const mode = call.refreshAhead
    if (mode === false || this.#flights.has(key)) return
    // XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): expire early with a probability that
    // grows as expiry nears, scaled by how long a load takes; beta = 1 is optimal for one process.
    const due = mode === true
      ? now - entry.loadMs * Math.log(Math.random()) >= entry.freshUntil
      : now - entry.createdAt >= (entry.freshUntil - entry.createdAt) * mode
    if (!due) return
    this.#recorder.counters.refreshes++
    this.start(key, loader, { ...call, softTimeout: undefined }, entry, entry)
      .catch(() => { /* counted as a loader error; the current value stays */ })
  }

  async #releaseLease(key: string, token: string): Promise<void> {
    const store = this.#shared?.coherent
    if (this.#held.get(key) === token) this.#held.delete(key)
    if (store === undefined) return
    const released = await this.#l2Call(() => store.releaseLease(key, token).then(() => true), false)
    if (!released) this.#orphan(key, token)
  }

  /**
   * Remembers a token whose lease may still be held, and gives it back in the background: a
   * release queued behind the call that timed out runs after it, so other processes need not wait
   * out the lease either. If that fails too, the next flight for the key reuses the token.
   */
  #orphan(key: string, token: string): void {
    if (this.#isClosed()) return
    this.#orphans.set(key, token)
    const lease = this.#settings.lease
    if (lease === false) return
    this.#releaseOrphan(key, token, this.#settings.clock.now() + lease.ttl, 0)
  }

  /**
   * Gives an orphaned lease back, retrying with back-off while the connection is down (a killed
   * connection fails the release at once, and reconnects a moment later): other processes would
   * otherwise wait for a lease nobody fills. Stops once released, once a new flight of this
   * process took the token over, at close, or once the lease has expired by itself.
   */
  #releaseOrphan(key: string, token: string, until: number, attempt: number): void {
    const store = this.#shared?.coherent
    if (store === undefined) return
    void this.#l2Call(() => store.releaseLease(key, token).then(() => true), false).then((released) => {
      if (this.#orphans.get(key) !== token) return
      if (released) {
        this.#orphans.delete(key)
        return
      }
      const clock = this.#settings.clock
      const delay = Math.min(100 * 2 ** attempt, 2_000)
      if (this.#isClosed() || clock.now() + delay >= until) return
      const timer = clock.setTimeout(() => {
        this.#retries.delete(timer)
        if (!this.#isClosed() && this.#orphans.get(key) === token) this.#releaseOrphan(key, token, until, attempt + 1)
      }, delay)
      this.#retries.add(timer)
    })
  }

  /** Every L2 call goes through the shared tier's guard: a budget, a breaker and a fallback. */
  #l2Call<T, F>(fn: (store: SharedTier['store']) => T | Promise<T>, fallback: F): Promise<T | F> {
    return this.#shared?.call(fn, fallback) ?? Promise.resolve(fallback)
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
