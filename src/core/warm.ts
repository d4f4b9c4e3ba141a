import { randomBytes } from 'node:crypto'
import type { Clock, TimerHandle } from '../ports/clock.js'
import type { LeaseRead } from '../ports/coherent-store.js'
import type { CacheEntry } from '../ports/entry.js'
import type { Loader, LoaderContext } from './cache-types.js'
import { assertKnownKeys, entryDuration, isRecord } from './call-options.js'
import type { Duration } from './duration.js'
import { parseDuration } from './duration.js'
import type { EntryBuilder } from './entry-builder.js'
import { InvalidOptionError } from './errors.js'
import { assertKey, normalizeTags } from './key.js'
import type { L1Tier } from './l1-tier.js'
import { FRESH } from './l1-tier.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import type { TagCheck } from './tag-check.js'

/** Options of `warm` and `warmTop`. */
export interface WarmOptions {
  /** Loads in flight at most (the load on the source). Default 8. */
  concurrency?: number
  /** Keys checked per L2 round trip, and entries written per L2 round trip. Default 100. */
  batchSize?: number
  /** Freshness of the warmed entries. Default: the cache's `ttl`. */
  ttl?: Duration
  /** Grace of the warmed entries. Default: the cache's `grace`. */
  grace?: Duration
  /** Tags of each warmed entry (the tags a read of the key would give it), so tag invalidation reaches them. */
  tags?: (key: string) => readonly string[]
  /**
   * Cancels the warming: no new load starts, loads in flight are aborted (`ctx.signal`), what was loaded is written.
   * An async source is not waited for: it is asked to stop (`return()`).
   */
  signal?: AbortSignal
  /** Called with the progress at most every 100 ms, and once at the end. */
  onProgress?: (progress: WarmProgress) => void
}

/** Where a warming stands. */
export interface WarmProgress {
  /** Keys dealt with: `loaded + skipped + errors`. */
  readonly done: number
  /** Keys to warm, when known (an array or `warmTop`; not an async iterable). */
  readonly total: number | undefined
  /** Keys loaded from the source and written. */
  readonly loaded: number
  /** Keys not loaded: already fresh, being loaded by another process, or changed while loading (then not written). */
  readonly skipped: number
  /** Keys whose load failed, whose value could not be cached, or that L2 failed to take. */
  readonly errors: number
  /** Keys dealt with per second since the start. */
  readonly rate: number
  readonly elapsedMs: number
}

/** How a warming ended. */
export interface WarmResult extends WarmProgress {
  /** True when `signal` cancelled it (a re-run skips the keys already warm and loads the rest). */
  readonly cancelled: boolean
  /** The first 100 failures. */
  readonly failures: readonly { readonly key: string; readonly error: unknown }[]
}

/** An item of `warmTop`: a key and its popularity. */
export interface ScoredKey {
  readonly key: string
  readonly score: number
}

const WARM_KEYS: ReadonlySet<string> = new Set(['concurrency', 'batchSize', 'ttl', 'grace', 'tags', 'signal', 'onProgress'])
const PROGRESS_EVERY_MS = 100
/** Loaded entries wait at most this long for their batch to fill before being written (their fill leases are running). */
const WRITE_DELAY_MS = 50
const MAX_FAILURES_KEPT = 100

/** A loaded entry on its way to L2, with the fill lease that fences it. */
interface Loaded {
  readonly key: string
  readonly entry: CacheEntry
  readonly lease: string | undefined
  readonly stamp: number
}

/** `WarmOptions` once validated. */
export interface ResolvedWarm {
  readonly concurrency: number
  readonly batchSize: number
  readonly ttl: number
  readonly grace: number
  readonly tags: ((key: string) => readonly string[]) | undefined
  readonly signal: AbortSignal | undefined
  readonly onProgress: ((progress: WarmProgress) => void) | undefined
}

/**
 * Cache warming: loads many keys into the shared tier ahead of traffic without hammering the source.
 *
 * - Bounded: at most `concurrency` loads in flight, whatever the source yields.
 * - Cheap to repeat: keys are checked `batchSize` at a time in one L2 round trip, and keys already
 *   fresh are skipped, so a warming that was cancelled or crashed resumes where it stopped.
 * - Coherent: each load takes the key's fill lease first (so a reader's concurrent miss waits for
 *   it, and a key being loaded elsewhere is skipped) and its value is written only while the lease
 *   holds, exactly like a fill: an invalidation during the load wins. Entries are written in
 *   batches of `batchSize`, one round trip each.
 * - Without L2, L1 is warmed (the same rules apply). With L2, L1 is left alone: warmed keys are not
 *   known to be hot in this process, and the L1 policy would only have to push them out again.
 */
export class Warmer {
  readonly #settings: CacheSettings
  readonly #tiers: WarmTiers
  readonly #running = new Set<AbortController>()

  constructor(settings: CacheSettings, tiers: { l1: L1Tier; shared: SharedTier | undefined; tags: TagCheck; builder: EntryBuilder }) {
    this.#settings = settings
    this.#tiers = { ...tiers, settings, clock: settings.clock }
  }

  /** Validates `warm` options (before anything starts). */
  resolve(options: unknown): ResolvedWarm {
    if (options === undefined) options = {}
    if (!isRecord(options)) throw new InvalidOptionError('options', 'an object', options)
    assertKnownKeys(options, WARM_KEYS)
    const o = options as WarmOptions
    const concurrency = o.concurrency ?? 8
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('concurrency', 'a positive integer', concurrency)
    const batchSize = o.batchSize ?? 100
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new InvalidOptionError('batchSize', 'an integer from 1 to 10000', batchSize)
    if (o.tags !== undefined && typeof o.tags !== 'function') throw new InvalidOptionError('tags', 'a function (key) => tags', o.tags)
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'an AbortSignal', o.signal)
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InvalidOptionError('onProgress', 'a function', o.onProgress)
    return {
      concurrency,
      batchSize,
      ttl: o.ttl === undefined ? this.#settings.ttl : entryDuration(o.ttl, 'ttl'),
      grace: o.grace === undefined ? this.#settings.grace : entryDuration(o.grace, 'grace'),
      tags: o.tags,
      signal: o.signal,
      onProgress: o.onProgress,
    }
  }

  /** Cancels every warming in flight (the cache is closing). */
  close(): void {
    for (const controller of this.#running) controller.abort(new Error('the cache is closing'))
  }

  async run(source: Iterable<string> | AsyncIterable<string>, loader: Loader<unknown>, options: ResolvedWarm, total: number | undefined): Promise<WarmResult> {
    const run = new WarmRun(this.#tiers, source, loader, options, total)
    const controller = run.controller
    this.#running.add(controller)
    try {
      return await run.execute()
    } finally {
      this.#running.delete(controller)
    }
  }
}

/** Everything a warming needs from the cache. */
interface WarmTiers {
  readonly settings: CacheSettings
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly tags: TagCheck
  readonly builder: EntryBuilder
  readonly clock: Clock
}

/** One warming. */
class WarmRun {
  readonly controller = new AbortController()
  readonly #t: WarmTiers
  readonly #source: Iterable<string> | AsyncIterable<string>
  readonly #loader: Loader<unknown>
  readonly #o: ResolvedWarm
  readonly #total: number | undefined
  readonly #started: number
  #loaded = 0
  #skipped = 0
  #errors = 0
  readonly #failures: { key: string; error: unknown }[] = []
  #inFlight = 0
  readonly #slotWaiters: (() => void)[] = []
  readonly #loads = new Set<Promise<void>>()
  #buffer: Loaded[] = []
  readonly #writes = new Set<Promise<void>>()
  #writeTimer: TimerHandle = undefined
  #lastProgress = 0

  constructor(tiers: WarmTiers, source: Iterable<string> | AsyncIterable<string>, loader: Loader<unknown>, options: ResolvedWarm, total: number | undefined) {
    this.#t = tiers
    this.#source = source
    this.#loader = loader
    this.#o = options
    this.#total = total
    this.#started = this.#t.clock.now()
  }

  get #cancelled(): boolean {
    return this.controller.signal.aborted
  }

  async execute(): Promise<WarmResult> {
    const signal = this.#o.signal
    const onAbort = (): void => this.controller.abort(signal?.reason)
    if (signal?.aborted === true) onAbort()
    signal?.addEventListener('abort', onAbort)
    const keys = new CancellableKeys(this.#source, this.controller.signal)
    try {
      let chunk: string[] = []
      for (;;) {
        if (this.#cancelled) break
        // A source that stalls (a cursor that stopped answering) must not hold a cancel up.
        const next = await keys.next()
        if (next === undefined) break
        chunk.push(next.key as string)
        if (chunk.length >= this.#o.batchSize) {
          await this.#chunk(chunk)
          chunk = []
        }
      }
      if (chunk.length > 0 && !this.#cancelled) await this.#chunk(chunk)
      while (this.#loads.size > 0) await Promise.allSettled([...this.#loads])
      await this.#flush()
      while (this.#writes.size > 0) await Promise.allSettled([...this.#writes])
    } finally {
      keys.close()
      signal?.removeEventListener('abort', onAbort)
      if (this.#writeTimer !== undefined) this.#t.clock.clearTimeout(this.#writeTimer)
    }
    const result: WarmResult = { ...this.#progress(), cancelled: this.#cancelled, failures: this.#failures }
    this.#report(result)
    return result
  }

  /** One batch of keys: skips the fresh ones in one round trip, then loads the rest within the concurrency bound. */
  async #chunk(keys: readonly string[]): Promise<void> {
    const valid: string[] = []
    for (const key of keys) {
      try {
        assertKey(key)
        valid.push(key)
      } catch (error) {
        this.#fail(String(key), error)
      }
    }
    const todo = await this.#notWarm(valid)
    for (const key of todo) {
      await this.#slot()
      if (this.#cancelled) {
        this.#release()
        break
      }
      const load = this.#load(key).finally(() => {
        this.#loads.delete(load)
        this.#release()
      })
      this.#loads.add(load)
    }
  }

  /** The keys of `keys` not fresh in the tier being warmed (one L2 round trip). */
  async #notWarm(keys: readonly string[]): Promise<string[]> {
    const { shared, l1, clock, tags } = this.#t
    const now = clock.now()
    let entries: readonly (CacheEntry | undefined)[] | undefined
    if (shared !== undefined) entries = await shared.call((store) => store.getMany(keys), undefined)
    else entries = keys.map((key) => l1.store?.peek(key))
    const todo: string[] = []
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      const entry = entries?.[i]
      const fresh = entry !== undefined && (shared === undefined ? l1.check(entry, now) === FRESH : entry.freshUntil > now && (await tags.isCurrent(entry)))
      if (fresh) this.#skipped++
      else todo.push(key)
    }
    this.#maybeReport()
    return todo
  }

  async #load(key: string): Promise<void> {
    const { shared, l1, clock, settings, builder, tags } = this.#t
    const stamp = l1.generations.stamp(key)
    let lease: string | undefined
    const coherent = settings.lease === false ? undefined : shared?.coherent
    if (shared !== undefined && coherent !== undefined && settings.lease !== false) {
      const token = randomBytes(12).toString('hex')
      const leaseMs = settings.lease.ttl
      const read = (force: boolean): Promise<LeaseRead | undefined> => shared.call(() => coherent.readForFill(key, token, leaseMs, clock.now(), force), undefined)
      // An unanswered read may still have run and taken the lease: asking again with the same token
      // tells (the script counts a lease held by that token as acquired).
      let answer = (await read(false)) ?? (await read(false))
      // "Fresh" is the store's view of its lifetime only: an entry one of whose tags was
      // invalidated since it was loaded is not warm, and is loaded again (as a read would).
      if (answer?.status === 'fresh' && !(await tags.isCurrent(answer.entry))) answer = (await read(true)) ?? (await read(true))
      if (answer === undefined) {
        void this.#releaseLease(key, token)
        return this.#fail(key, new Error('L2 did not answer the fill lease read'))
      }
      // Fresh meanwhile, or another process is loading it: nothing to do here.
      if (answer.status !== 'acquired') return this.#skip()
      lease = token
    }
    const keyTags = this.#o.tags === undefined ? [] : normalizeTags(this.#o.tags(key), key)
    let ttl = this.#o.ttl
    let version: number | undefined
    const context: LoaderContext = {
      key,
      signal: this.controller.signal,
      staleValue: undefined,
      setTtl: (value) => { ttl = parseDuration(value, 'ttl') },
      setVersion: (value) => {
        if (!Number.isFinite(value)) throw new InvalidOptionError('version', 'a finite number', value)
        version = value
      },
    }
    let entry: CacheEntry
    try {
      const tagVersions = keyTags.length === 0 ? undefined : await tags.current(keyTags)
      const started = clock.now()
      const value = await this.#loader(context)
      entry = builder.build(key, value, { ttl, grace: this.#o.grace, tags: keyTags, tagVersions, loadMs: clock.now() - started, version,
        maxLifetime: keyTags.length === 0 ? Number.POSITIVE_INFINITY : settings.tagTtl })
    } catch (error) {
      if (lease !== undefined) await this.#releaseLease(key, lease)
      return this.#fail(key, error)
    }
    this.#buffer.push({ key, entry, lease, stamp })
    if (this.#buffer.length >= this.#o.batchSize) this.#startFlush()
    else this.#writeTimer ??= this.#t.clock.setTimeout(() => {
      this.#writeTimer = undefined
      this.#startFlush()
    }, WRITE_DELAY_MS)
  }

  #startFlush(): void {
    const write = this.#flush().finally(() => this.#writes.delete(write))
    this.#writes.add(write)
  }

  /** Writes the buffered entries: with their leases in one round trip, or into L1 without L2. */
  async #flush(): Promise<void> {
    if (this.#writeTimer !== undefined) this.#t.clock.clearTimeout(this.#writeTimer)
    this.#writeTimer = undefined
    const batch = this.#buffer
    this.#buffer = []
    if (batch.length === 0) return
    const { shared, l1, settings } = this.#t
    // An invalidation of the key on this node while it loaded wins (other nodes' void the lease).
    const current = batch.filter((item) => {
      if (!l1.generations.changed(item.key, item.stamp)) return true
      this.#skip()
      if (item.lease !== undefined) void this.#releaseLease(item.key, item.lease)
      return false
    })
    if (shared === undefined) {
      for (const item of current) l1.fill(item.key, item.entry, item.stamp)
      this.#loaded += current.length
    } else if (settings.lease !== false && shared.coherent !== undefined) {
      const coherent = shared.coherent
      // Issued in one tick: the store sends them in one write (one round trip per node).
      const results = await Promise.all(current.map((item) =>
        shared.call(() => coherent.fillWithLease(item.key, item.entry, item.lease as string), undefined)))
      results.forEach((result, i) => {
        const key = (current[i] as Loaded).key
        if (result === 'ok') this.#loaded++
        else if (result === undefined) {
          // It may still have been written; if not, its lease must not make readers wait.
          void this.#releaseLease(key, (current[i] as Loaded).lease as string)
          this.#fail(key, new Error('L2 did not take the warmed entry'))
        } else this.#skip()
      })
    } else {
      const ok = await shared.call(async (store) => { await store.setMany(current.map((item) => [item.key, item.entry] as const)); return true }, false)
      if (ok) this.#loaded += current.length
      else for (const item of current) this.#fail(item.key, new Error('L2 did not take the warmed entry'))
    }
    this.#maybeReport()
  }

  async #releaseLease(key: string, token: string): Promise<void> {
    const { shared } = this.#t
    const coherent = shared?.coherent
    if (shared !== undefined && coherent !== undefined) await shared.call(() => coherent.releaseLease(key, token), undefined)
  }

  #slot(): Promise<void> {
    if (this.#inFlight < this.#o.concurrency) {
      this.#inFlight++
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => this.#slotWaiters.push(() => {
      this.#inFlight++
      resolve()
    }))
  }

  #release(): void {
    this.#inFlight--
    this.#slotWaiters.shift()?.()
  }

  #skip(): void {
    this.#skipped++
    this.#maybeReport()
  }

  #fail(key: string, error: unknown): void {
    this.#errors++
    if (this.#failures.length < MAX_FAILURES_KEPT) this.#failures.push({ key, error })
    this.#maybeReport()
  }

  #progress(): WarmProgress {
    const elapsedMs = Math.max(this.#t.clock.now() - this.#started, 0)
    const done = this.#loaded + this.#skipped + this.#errors
    return { done, total: this.#total, loaded: this.#loaded, skipped: this.#skipped, errors: this.#errors,
      rate: elapsedMs === 0 ? 0 : Math.round((done * 1000) / elapsedMs), elapsedMs }
  }

  #maybeReport(): void {
    if (this.#o.onProgress === undefined) return
    const now = this.#t.clock.now()
    if (now - this.#lastProgress < PROGRESS_EVERY_MS) return
    this.#report(this.#progress())
  }

  #report(progress: WarmProgress): void {
    const onProgress = this.#o.onProgress
    if (onProgress === undefined) return
    this.#lastProgress = this.#t.clock.now()
    try {
      onProgress(progress)
    } catch {
      // A failing progress callback must not stop the warming (nor report itself as a key error).
    }
  }
}

/**
 * The keys of a warming, read one at a time, that stop at once when the warming is cancelled: a
 * `for await` would wait for an async source's next key first, for ever if the source stalls. The
 * source is then told to stop (`return()`, as `for await` does on `break`), without waiting for it.
 */
class CancellableKeys {
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>
  readonly #signal: AbortSignal
  #finished = false

  constructor(source: Iterable<string> | AsyncIterable<string>, signal: AbortSignal) {
    this.#iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
    this.#signal = signal
  }

  /** The next key (as the source gave it), or undefined once the source is done or the warming cancelled. */
  async next(): Promise<{ key: unknown } | undefined> {
    if (this.#finished || this.#signal.aborted) return undefined
    let result: IteratorResult<unknown> | undefined
    try {
      result = await this.#untilCancelled(this.#iterator.next())
    } catch (error) {
      // The source failed: it is done, and is not asked to stop.
      this.#finished = true
      throw error
    }
    if (result === undefined) return undefined
    if (result.done === true) {
      this.#finished = true
      return undefined
    }
    return { key: result.value }
  }

  /**
   * The source's answer, or undefined if the warming is cancelled first. One abort listener per
   * pending answer, removed when it settles (racing every key against one long-lived promise would
   * keep a reaction per key alive until the warming ends).
   */
  #untilCancelled(answer: IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>): IteratorResult<unknown> | Promise<IteratorResult<unknown> | undefined> {
    if (typeof (answer as Partial<PromiseLike<unknown>>).then !== 'function') return answer as IteratorResult<unknown>
    const pending = Promise.resolve(answer)
    const signal = this.#signal
    return new Promise<IteratorResult<unknown> | undefined>((resolve, reject) => {
      const onAbort = (): void => resolve(undefined)
      signal.addEventListener('abort', onAbort, { once: true })
      pending.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject)
    })
  }

  /** Tells a source that was not read to its end to stop. */
  close(): void {
    if (this.#finished) return
    this.#finished = true
    try {
      void Promise.resolve(this.#iterator.return?.()).catch(() => {})
    } catch {
      // A source whose return() throws has nothing more to say.
    }
  }
}

/**
 * The `n` items of highest score, highest first (ties keep their input order). One pass with a
 * min-heap of `n`: O(items × log n) time, O(n) memory, so a million scored keys need no sort.
 */
export function topByScore(items: Iterable<ScoredKey>, n: number): string[] {
  const heap: { score: number; index: number; key: string }[] = []
  // Lower priority = evicted first: a lower score, or the same score seen later.
  const below = (a: { score: number; index: number }, b: { score: number; index: number }): boolean =>
    a.score < b.score || (a.score === b.score && a.index > b.index)
  let index = 0
  for (const item of items) {
    if (!isRecord(item) || typeof item.score !== 'number' || Number.isNaN(item.score)) throw new InvalidOptionError('items[]', 'an object { key, score } with a numeric score', item)
    const node = { score: item.score, index: index++, key: item.key }
    if (heap.length < n) {
      heap.push(node)
      let i = heap.length - 1
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (!below(heap[i] as typeof node, heap[parent] as typeof node)) break
        ;[heap[i], heap[parent]] = [heap[parent] as typeof node, heap[i] as typeof node]
        i = parent
      }
    } else if (n > 0 && below(heap[0] as typeof node, node)) {
      heap[0] = node
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let least = i
        if (l < heap.length && below(heap[l] as typeof node, heap[least] as typeof node)) least = l
        if (r < heap.length && below(heap[r] as typeof node, heap[least] as typeof node)) least = r
        if (least === i) break
        ;[heap[i], heap[least]] = [heap[least] as typeof node, heap[i] as typeof node]
        i = least
      }
    }
  }
  return heap.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0)).map((node) => node.key)
}
