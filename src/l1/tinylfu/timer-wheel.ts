/**
 * Buckets per wheel and the span of one bucket in milliseconds (powers of two, so bucket indexes
 * are a shift and a mask). Modelled on Caffeine's `TimerWheel` (Varghese & Lauck, "Hashed and
 * Hierarchical Timing Wheels", SOSP 1987): ~1 s buckets for the next minute, ~1 min buckets for the
 * next hour, ~1 h buckets for the next day and a half, then ~18 h and a 3-day overflow.
 */
const BUCKETS = [64, 64, 32, 4, 1] as const
const SPANS = [2 ** 10, 2 ** 16, 2 ** 22, 2 ** 26, 2 ** 28, 2 ** 28] as const
const OFFSETS = [0, 64, 128, 160, 164] as const
/** Bucket sentinels (64 + 64 + 32 + 4 + 1), then one more for the list being expired. */
const BUCKET_COUNT = 165
const PENDING = BUCKET_COUNT
const SENTINELS = BUCKET_COUNT + 1
/** First node id of a slot: slot `s` is node `s + BASE`. */
const BASE = SENTINELS

/** How often the wheel needs advancing: one tick of the finest wheel. */
export const WHEEL_TICK_MS = SPANS[0]

/**
 * A hierarchical timer wheel over the store's slots: O(1) to schedule, reschedule and cancel, and
 * expiring what is due costs in proportion to what is due (plus a bounded walk of buckets), never
 * a scan of the whole cache. Entries are grouped by deadline into coarse buckets; advancing time
 * expires the buckets it passes and cascades entries from coarse wheels into finer ones.
 *
 * Links live in typed arrays indexed by slot (offset past the bucket sentinels), so the wheel
 * allocates nothing per entry. An unscheduled slot links to itself, which makes `cancel` safe to
 * call on any slot.
 */
export class TimerWheel {
  #next: Uint32Array
  #prev: Uint32Array
  #capacity: number
  #now: number
  #size = 0
  readonly #onExpire: (slot: number) => void
  readonly #deadlineOf: (slot: number) => number

  /**
   * @param now the current time (epoch ms)
   * @param deadlineOf a scheduled slot's deadline (the wheel does not copy deadlines: the owner
   *   has them, and reading them back only happens when a bucket is expired or cascaded)
   * @param onExpire called for each slot whose deadline has passed during {@link advance}; the
   *   slot is already unlinked from the wheel.
   */
  constructor(now: number, capacity: number, deadlineOf: (slot: number) => number, onExpire: (slot: number) => void) {
    this.#now = now
    this.#deadlineOf = deadlineOf
    this.#onExpire = onExpire
    this.#capacity = capacity
    this.#next = new Uint32Array(BASE + capacity)
    this.#prev = new Uint32Array(BASE + capacity)
    this.#reset()
  }

  /** Slots `0..capacity-1` can be scheduled. */
  get capacity(): number {
    return this.#capacity
  }

  /** Scheduled slots. */
  get size(): number {
    return this.#size
  }

  /** Makes room for slots `0..capacity-1` (slot arrays only grow). */
  ensureCapacity(capacity: number): void {
    if (capacity <= this.#capacity) return
    const next = new Uint32Array(BASE + capacity)
    next.set(this.#next)
    const prev = new Uint32Array(BASE + capacity)
    prev.set(this.#prev)
    for (let node = this.#next.length; node < next.length; node++) {
      next[node] = node
      prev[node] = node
    }
    this.#next = next
    this.#prev = prev
    this.#capacity = capacity
  }

  /**
   * Schedules a slot that is not scheduled yet. A non-finite deadline means "never": the slot
   * is left unlinked (and `cancel` stays a no-op for it).
   */
  schedule(slot: number, deadline: number): void {
    const node = slot + BASE
    if (!Number.isFinite(deadline)) {
      this.#next[node] = node
      this.#prev[node] = node
      return
    }
    this.#link(this.#bucketFor(deadline), node)
    this.#size++
  }

  /** Moves a scheduled (or self-linked) slot to a new deadline. */
  reschedule(slot: number, deadline: number): void {
    this.cancel(slot)
    this.schedule(slot, deadline)
  }

  /** Unschedules a slot; a no-op if it is not scheduled. */
  cancel(slot: number): void {
    const node = slot + BASE
    const next = this.#next[node] as number
    if (next === node) return
    const prev = this.#prev[node] as number
    this.#next[prev] = next
    this.#prev[next] = prev
    this.#next[node] = node
    this.#prev[node] = node
    this.#size--
  }

  /** Forgets every slot. */
  clear(): void {
    this.#reset()
  }

  /**
   * Moves time to `now` and expires every slot whose deadline is at or before it, calling
   * `onExpire` for each. Slots in the buckets passed whose deadline is still ahead are cascaded
   * into a finer bucket. Work is proportional to the buckets passed (at most 165) and the slots in
   * them. Listeners may schedule or cancel other slots while this runs.
   */
  advance(now: number): void {
    const previous = this.#now
    if (now <= previous) return
    this.#now = now
    for (let wheel = 0; wheel < BUCKETS.length; wheel++) {
      const span = SPANS[wheel] as number
      const previousTicks = Math.floor(previous / span)
      const delta = Math.floor(now / span) - previousTicks
      if (delta <= 0) break
      this.#expire(wheel, previousTicks, delta)
    }
  }

  #expire(wheel: number, previousTicks: number, delta: number): void {
    const buckets = BUCKETS[wheel] as number
    const offset = OFFSETS[wheel] as number
    const steps = Math.min(1 + delta, buckets)
    const start = previousTicks % buckets
    for (let i = start; i < start + steps; i++) {
      const sentinel = offset + (i % buckets)
      if (this.#next[sentinel] === sentinel) continue
      // Move the whole bucket onto the pending list first: a slot that is not yet due may cascade
      // back into this same bucket, and a listener may cancel a slot still waiting on the list.
      this.#spliceInto(sentinel, PENDING)
      for (let node = this.#next[PENDING] as number; node !== PENDING; node = this.#next[PENDING] as number) {
        this.cancel(node - BASE)
        const slot = node - BASE
        const deadline = this.#deadlineOf(slot)
        if (deadline > this.#now) this.schedule(slot, deadline)
        else this.#onExpire(slot)
      }
    }
  }

  /**
   * Which bucket holds a deadline, relative to the wheel's current time. A deadline already past
   * goes in the current bucket, which the next tick visits (a past bucket would wait a full turn).
   */
  #bucketFor(target: number): number {
    const deadline = Math.max(target, this.#now)
    const duration = deadline - this.#now
    for (let wheel = 0; wheel < BUCKETS.length - 1; wheel++) {
      if (duration < (SPANS[wheel + 1] as number)) {
        const ticks = Math.floor(deadline / (SPANS[wheel] as number))
        return (OFFSETS[wheel] as number) + (ticks % (BUCKETS[wheel] as number))
      }
    }
    return OFFSETS[BUCKETS.length - 1] as number
  }

  #link(sentinel: number, node: number): void {
    const last = this.#prev[sentinel] as number
    this.#next[last] = node
    this.#prev[node] = last
    this.#next[node] = sentinel
    this.#prev[sentinel] = node
  }

  /** Moves every node of list `from` onto the (empty) list `to`. */
  #spliceInto(from: number, to: number): void {
    const first = this.#next[from] as number
    const last = this.#prev[from] as number
    this.#next[to] = first
    this.#prev[first] = to
    this.#prev[to] = last
    this.#next[last] = to
    this.#next[from] = from
    this.#prev[from] = from
  }

  #reset(): void {
    const next = this.#next
    const prev = this.#prev
    for (let i = 0; i < next.length; i++) {
      next[i] = i
      prev[i] = i
    }
    this.#size = 0
  }
}
