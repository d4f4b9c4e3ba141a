import type { Clock } from '../../ports/clock.js'
import type { CacheEntry } from '../../ports/entry.js'
import type { EvictionReason, L1Store, L1StoreStats } from '../../ports/store.js'
import { InvalidOptionError } from '../../core/errors.js'
import type { L1StoreOptions } from '../lru-store.js'
import { defaultWeigher } from '../lru-store.js'
import { FrequencySketch } from './frequency-sketch.js'
import { hashString, randomSeed, XorShift32 } from './hash.js'
import type { HillClimberOptions } from './hill-climber.js'
import { HillClimber } from './hill-climber.js'
import { TimerWheel, WHEEL_TICK_MS } from './timer-wheel.js'
import { WINDOW, PROBATION, PROTECTED, NONE, WTinyLfuPolicy } from './w-tinylfu-policy.js'

/**
 * Hits recorded before the policy is told about them (see `#reads`). Measured against 16 and 64:
 * 256 was 5 to 10% faster per hit; 1,024 little more, for a longer pause when the buffer is replayed.
 */
const READ_BUFFER = 256

/** Options of {@link TinyLfuStore}: the shared L1 options plus the policy's knobs. */
export interface TinyLfuStoreOptions extends L1StoreOptions {
  /**
   * Seed for key hashing and admission coin flips. Default: random per store, which is what
   * defeats precomputed hash collisions; set it only for reproducible simulations and tests.
   */
  readonly seed?: number | undefined
  /** Initial share of `maxBytes` given to the admission window. Default 0.01 (TinyLFU paper). */
  readonly initialWindow?: number | undefined
  /** Adapt the window by hill climbing (default true). `false` keeps the initial window. */
  readonly adaptive?: boolean | undefined
  /** Hill-climber tuning (see {@link HillClimberOptions}); the defaults are the documented ones. */
  readonly climber?: HillClimberOptions | undefined
}

/** A snapshot of the policy's regions and decisions, for diagnostics, tests and the simulator. */
export interface TinyLfuPolicyStats {
  readonly windowBytes: number
  readonly windowMaxBytes: number
  readonly probationBytes: number
  readonly protectedBytes: number
  readonly protectedMaxBytes: number
  /** Candidates admitted from the window into the main region, and those rejected. */
  readonly admitted: number
  readonly rejected: number
  /** Decisions (moves and ties) the hill climber has taken. */
  readonly climbs: number
  /** How many distinct keys the frequency sketch is sized for. */
  readonly sketchCapacity: number
  /** The sketch halves its counters every `sketchAgeing × sketchCapacity` counted requests. */
  readonly sketchAgeing: number
}

/**
 * The W-TinyLFU L1 store (policy `'tinylfu'`): byte-weighted, adaptive (see docs/l1.md).
 *
 * New entries enter a small LRU *window*. Entries pushed out of the window are *candidates* for the
 * main region, a segmented LRU (probation, then protected once hit again). When the cache is over
 * `maxBytes`, a candidate is admitted only if a frequency sketch says it is more popular than the
 * entries it would evict from the cold end of probation; otherwise the candidate goes. The window's
 * share is tuned continuously by a hill climber, so recency-heavy traffic gets a large window
 * (LRU-like) and frequency-heavy traffic a small one (LFU-like).
 *
 * A hit is a Map lookup, a compare with the slot's deadline and a write into a read buffer; the
 * sketch increment and the policy's reference bit or relink are replayed from the buffer in batches
 * (see `#reads`). Nothing is allocated. Expired entries are reclaimed by a timer wheel advanced as
 * operations cross its one-second ticks, so dead entries are dropped soon after any later activity,
 * without scans.
 */
export class TinyLfuStore implements L1Store {
  readonly name = 'tinylfu'
  readonly #maxBytes: number
  readonly #clock: Clock
  readonly #weigher: (key: string, entry: CacheEntry) => number
  readonly #onEvict: ((key: string, entry: CacheEntry, reason: EvictionReason) => void) | undefined
  readonly #seed: number
  readonly #sketch = new FrequencySketch()
  readonly #policy: WTinyLfuPolicy
  readonly #climber: HillClimber | undefined
  readonly #wheel: TimerWheel

  readonly #index = new Map<string, number>()
  // Slots 0..2 are the policy's queue sentinels; filling them keeps these arrays packed.
  readonly #keys: (string | undefined)[] = [undefined, undefined, undefined]
  readonly #entries: (CacheEntry | undefined)[] = [undefined, undefined, undefined]
  /**
   * Per slot, `staleUntil` in whole wheel ticks, rounded down (see {@link deadlineTick}): a hit
   * compares it with the time instead of reading the entry object, which at 10,000 entries and up
   * is usually a cache miss (it measured as the dearest step of a hit). Rounded down, it can only
   * say "maybe expired" too early, never too late: within the last tick the entry itself decides.
   */
  #deadlines: Uint32Array

  #wheelDue: number
  /**
   * Slots hit and not yet reported to the sketch, the climber and the policy. Caffeine records
   * reads into a buffer and replays them in batches for concurrency; here the batch is what pays:
   * replayed in a tight loop, the sketch and list updates of many hits overlap their memory
   * accesses, which one `get` at a time cannot (measured: docs/l1.md). The buffer is replayed,
   * in order, before anything that could free a slot or see the policy or the sketch (a write, a
   * miss, a removal, the timer wheel, a diagnostic), so the policy sees the very same sequence of
   * events as if each hit had been applied at once: the simulator's hit ratios are unchanged.
   */
  readonly #reads = new Int32Array(READ_BUFFER)
  #readCount = 0
  #lastMissKey: string | undefined = undefined
  #lastMissHash = 0
  /** Evictions decided inside `set`, reported to the listener once the store is consistent again. */
  readonly #evicted: (string | CacheEntry)[] = []
  #deferring = false

  #inserts = 0
  #evictions = 0
  #expirations = 0

  /** @throws {InvalidOptionError} naming the option, when `maxBytes`, `initialWindow` or `seed` is out of range */
  constructor(options: TinyLfuStoreOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) {
      throw new InvalidOptionError('maxBytes', 'a positive integer', options.maxBytes)
    }
    if (options.initialWindow !== undefined && !(options.initialWindow >= 0 && options.initialWindow <= 1)) {
      throw new InvalidOptionError('initialWindow', 'a number from 0 to 1', options.initialWindow)
    }
    if (options.seed !== undefined && !Number.isInteger(options.seed)) {
      throw new InvalidOptionError('seed', 'an integer', options.seed)
    }
    this.#maxBytes = options.maxBytes
    this.#clock = options.clock
    this.#weigher = options.weigher ?? defaultWeigher
    this.#onEvict = options.onEvict
    this.#seed = options.seed ?? randomSeed()
    const initialWindow = options.initialWindow ?? 0.01
    this.#policy = new WTinyLfuPolicy(this.#sketch, this.#maxBytes, initialWindow,
      new XorShift32(this.#seed ^ 0x5bd1e995), (slot) => this.#dropEvicted(slot))
    this.#climber = options.adaptive === false ? undefined : new HillClimber(this.#sketch, initialWindow, options.climber)
    const now = this.#clock.now()
    this.#deadlines = new Uint32Array(this.#policy.slotCapacity)
    this.#wheel = new TimerWheel(now, this.#policy.slotCapacity, (slot) => (this.#entries[slot] as CacheEntry).staleUntil,
      (slot) => this.#dropExpired(slot))
    this.#wheelDue = now + WHEEL_TICK_MS
  }

  get(key: string): CacheEntry | undefined {
    const slot = this.#index.get(key)
    if (slot === undefined) {
      this.#miss(key)
      return undefined
    }
    const entry = this.#entries[slot] as CacheEntry
    const now = this.#clock.now()
    if ((this.#deadlines[slot] as number) * WHEEL_TICK_MS <= now && entry.staleUntil <= now) {
      this.#expired(slot)
      return undefined
    }
    const n = this.#readCount
    this.#reads[n] = slot
    this.#readCount = n + 1
    if (n === READ_BUFFER - 1) this.#replayReads()
    this.#lastMissKey = undefined
    if (now >= this.#wheelDue) this.#advanceWheel(now)
    return entry
  }

  peek(key: string): CacheEntry | undefined {
    const slot = this.#index.get(key)
    if (slot === undefined) return undefined
    const entry = this.#entries[slot] as CacheEntry
    return entry.staleUntil <= this.#clock.now() ? undefined : entry
  }

  getMany(keys: readonly string[]): (CacheEntry | undefined)[] {
    return keys.map((key) => this.get(key))
  }

  set(key: string, entry: CacheEntry): void {
    if (this.#readCount !== 0) this.#replayReads()
    const now = this.#clock.now()
    // Whole units: the policy keeps weights in 32-bit integers.
    const weight = Math.ceil(this.#weigher(key, entry))
    const existing = this.#index.get(key)
    if (entry.staleUntil <= now || !(weight <= this.#maxBytes && weight <= 0xffffffff)) {
      // Dead on arrival, or larger than the whole cache (keeping it would evict everything else):
      // not stored, and an older copy must not outlive the write.
      if (existing !== undefined) this.#remove(existing, 'replaced')
      return
    }
    const policy = this.#policy
    this.#deferring = true
    if (existing !== undefined) {
      const old = this.#entries[existing] as CacheEntry
      this.#entries[existing] = entry
      policy.update(existing, weight)
      this.#deadlines[existing] = deadlineTick(entry.staleUntil)
      if (old.staleUntil !== entry.staleUntil) this.#wheel.reschedule(existing, entry.staleUntil)
      this.#notify(key, old, 'replaced')
    } else {
      const hash = key === this.#lastMissKey ? this.#lastMissHash : hashString(key, this.#seed)
      this.#lastMissKey = undefined
      if (policy.full) policy.grow(this.#slotTarget())
      const slot = policy.insert(hash, weight)
      if (policy.slotCapacity > this.#wheel.capacity) this.#growSlots(policy.slotCapacity)
      this.#deadlines[slot] = deadlineTick(entry.staleUntil)
      this.#keys[slot] = key
      this.#entries[slot] = entry
      this.#index.set(key, slot)
      this.#wheel.schedule(slot, entry.staleUntil)
      if (this.#index.size > this.#sketch.capacity) this.#sketch.ensureCapacity(this.#index.size)
    }
    if (policy.needsEviction()) policy.evict()
    const climber = this.#climber
    if (climber !== undefined && (climber.entries === 0 || (++this.#inserts & 63) === 0)) this.#configureClimber(climber)
    if (now >= this.#wheelDue) this.#advanceWheel(now)
    this.#deferring = false
    if (this.#evicted.length > 0) this.#flushEvicted()
  }

  setMany(entries: readonly (readonly [key: string, entry: CacheEntry])[]): void {
    for (const [key, entry] of entries) this.set(key, entry)
  }

  delete(key: string): boolean {
    const slot = this.#index.get(key)
    if (slot === undefined) return false
    this.#remove(slot, 'deleted')
    return true
  }

  deleteMany(keys: readonly string[]): number {
    let n = 0
    for (const key of keys) if (this.delete(key)) n++
    return n
  }

  /** Removes every entry. The frequency history is kept: it describes the workload, not the data. */
  clear(): void {
    if (this.#readCount !== 0) this.#replayReads()
    const dropped: [string, CacheEntry][] = []
    if (this.#onEvict !== undefined) {
      for (const [key, slot] of this.#index) dropped.push([key, this.#entries[slot] as CacheEntry])
    }
    this.#index.clear()
    this.#keys.length = 3
    this.#entries.length = 3
    this.#policy.clear()
    this.#wheel.clear()
    this.#lastMissKey = undefined
    const now = this.#clock.now()
    for (const [key, entry] of dropped) this.#notify(key, entry, entry.staleUntil <= now ? 'expired' : 'cleared')
  }

  close(): void {
    this.clear()
  }

  forEach(fn: (entry: CacheEntry, key: string) => void): void {
    if (this.#readCount !== 0) this.#replayReads()
    const now = this.#clock.now()
    const policy = this.#policy
    for (const queue of [WINDOW, PROBATION, PROTECTED]) {
      for (let slot = policy.first(queue); slot !== NONE; slot = policy.after(slot)) {
        const entry = this.#entries[slot] as CacheEntry
        if (entry.staleUntil > now) fn(entry, this.#keys[slot] as string)
      }
    }
  }

  stats(): L1StoreStats {
    return {
      entries: this.#index.size,
      bytes: this.#policy.weight,
      maxBytes: this.#maxBytes,
      evictions: this.#evictions,
      expirations: this.#expirations,
    }
  }

  /** The policy's current shape and decision counters. */
  policy(): TinyLfuPolicyStats {
    if (this.#readCount !== 0) this.#replayReads()
    const p = this.#policy
    return {
      windowBytes: p.windowWeight,
      windowMaxBytes: p.windowMax,
      probationBytes: p.probationWeight,
      protectedBytes: p.protectedWeight,
      protectedMaxBytes: p.protectedMax,
      admitted: p.admitted,
      rejected: p.rejected,
      climbs: this.#climber?.decisions ?? 0,
      sketchCapacity: this.#sketch.capacity,
      sketchAgeing: this.#sketch.sampleFactor,
    }
  }

  /** The sketch's estimate of how often `key` was requested lately (0..15), for tests and diagnostics. */
  frequency(key: string): number {
    if (this.#readCount !== 0) this.#replayReads()
    return this.#sketch.frequency(hashString(key, this.#seed))
  }

  #miss(key: string): void {
    // The cache may look a key up twice for one request (its fast path, then the loading path)
    // and then store it: count that as one request and hash the key once.
    if (key === this.#lastMissKey) return
    if (this.#readCount !== 0) this.#replayReads()
    const hash = hashString(key, this.#seed)
    this.#lastMissKey = key
    this.#lastMissHash = hash
    this.#sketch.increment(hash)
    const climber = this.#climber
    if (climber !== undefined && climber.sampled(hash) && climber.record(hash)) this.#applyWindow()
    const now = this.#clock.now()
    if (now >= this.#wheelDue) this.#advanceWheel(now)
  }

  /**
   * Starts the climber once the cache is half full (as Caffeine does: its miniatures warm up while
   * the cache fills), sized for the entries the cache will hold when full at the current average
   * weight; resizes the miniatures if that estimate later drifts by more than 2× (a byte-weighted
   * cache holds more entries when they get smaller). Checked every 64 entries added once started.
   */
  #configureClimber(climber: HillClimber): void {
    const weight = this.#policy.weight
    if (2 * weight < this.#maxBytes) return
    const expected = Math.round((this.#index.size * this.#maxBytes) / weight)
    const configured = climber.entries
    if (configured === 0 || expected > 2 * configured || 2 * expected < configured) climber.configure(expected)
  }

  /** Tells the sketch, the climber and the policy about the buffered hits, oldest first. */
  #replayReads(): void {
    const reads = this.#reads
    const n = this.#readCount
    this.#readCount = 0
    const policy = this.#policy
    const hashes = policy.hashes
    const sketch = this.#sketch
    const climber = this.#climber
    for (let i = 0; i < n; i++) {
      const slot = reads[i] as number
      const hash = hashes[slot] as number
      sketch.increment(hash)
      if (climber !== undefined && climber.sampled(hash) && climber.record(hash)) this.#applyWindow()
      policy.hit(slot)
    }
  }

  /** A read found its entry past `staleUntil`: it still counts as a request for the key. */
  #expired(slot: number): void {
    if (this.#readCount !== 0) this.#replayReads()
    const hash = this.#policy.hashes[slot] as number
    this.#sketch.increment(hash)
    const climber = this.#climber
    if (climber !== undefined && climber.sampled(hash) && climber.record(hash)) this.#applyWindow()
    this.#expirations++
    this.#remove(slot, 'expired')
  }

  #applyWindow(): void {
    this.#policy.setWindowMax((this.#climber as HillClimber).window * this.#maxBytes)
  }

  /**
   * How many slots to grow to: enough for the entries the cache will hold when full at the current
   * average weight (the climber's estimate), plus 5%, instead of doubling, which left a quarter to
   * two fifths of every slot array unused (29 bytes a slot); but at least 1.25× (amortised O(1)
   * growth, should the estimate keep falling short) and at most 2×.
   */
  #slotTarget(): number {
    const current = this.#policy.slotCapacity
    const weight = this.#policy.weight
    const expected = weight > 0 ? (this.#index.size * this.#maxBytes) / weight : 0
    return Math.ceil(Math.min(2 * current, Math.max(1.25 * current, 1.05 * expected + 16)))
  }

  #growSlots(capacity: number): void {
    this.#wheel.ensureCapacity(capacity)
    const deadlines = new Uint32Array(capacity)
    deadlines.set(this.#deadlines)
    this.#deadlines = deadlines
  }

  #advanceWheel(now: number): void {
    if (this.#readCount !== 0) this.#replayReads()
    this.#wheelDue = now - (now % WHEEL_TICK_MS) + WHEEL_TICK_MS
    this.#wheel.advance(now)
  }

  /** The wheel found a slot past its deadline. */
  #dropExpired(slot: number): void {
    this.#expirations++
    this.#remove(slot, 'expired')
  }

  /** The policy evicted (and freed) a slot: drop what the store keeps beside it. */
  #dropEvicted(slot: number): void {
    const key = this.#keys[slot] as string
    const entry = this.#entries[slot] as CacheEntry
    const now = this.#clock.now()
    // The deadline tick spares reading the entry object (see #deadlines).
    const expired = (this.#deadlines[slot] as number) * WHEEL_TICK_MS <= now && entry.staleUntil <= now
    if (expired) this.#expirations++
    else this.#evictions++
    this.#forget(slot, key)
    this.#notify(key, entry, expired ? 'expired' : 'capacity')
  }

  #remove(slot: number, reason: EvictionReason): void {
    if (this.#readCount !== 0) this.#replayReads()
    const key = this.#keys[slot] as string
    const entry = this.#entries[slot] as CacheEntry
    this.#policy.remove(slot)
    this.#forget(slot, key)
    this.#notify(key, entry, reason)
  }

  #forget(slot: number, key: string): void {
    this.#wheel.cancel(slot)
    this.#index.delete(key)
    this.#keys[slot] = undefined
    this.#entries[slot] = undefined
  }

  #notify(key: string, entry: CacheEntry, reason: EvictionReason): void {
    if (this.#onEvict === undefined) return
    if (this.#deferring) {
      this.#evicted.push(key, entry, reason)
      return
    }
    try {
      this.#onEvict(key, entry, reason)
    } catch {
      // A listener must not be able to corrupt the store or fail a cache call.
    }
  }

  /** Reports evictions queued during a `set`; a listener may call back into the store. */
  #flushEvicted(): void {
    const queued = this.#evicted.splice(0)
    for (let i = 0; i < queued.length; i += 3) {
      this.#notify(queued[i] as string, queued[i + 1] as CacheEntry, queued[i + 2] as EvictionReason)
    }
  }
}

/** `staleUntil` in whole wheel ticks, rounded down, clamped to 32 bits (NaN, which never expires, gives 0). */
function deadlineTick(staleUntil: number): number {
  const tick = Math.floor(staleUntil / WHEEL_TICK_MS)
  return tick > 0 ? Math.min(tick, 0xffffffff) : 0
}
