import type { BreakerState } from './circuit-breaker.js'
import { CircuitBreaker } from './circuit-breaker.js'
import type { Clock, TimerHandle } from '../ports/clock.js'
import { L2Error } from './errors.js'
import type { Logger } from '../ports/logger.js'

/** Counters one guard keeps. */
export interface GuardStats {
  /** Calls that failed: threw, or did not answer in time. */
  errors: number
  /** Of which, calls that did not answer in time. */
  timeouts: number
  /** Calls not attempted because the breaker was open. */
  skipped: number
  /**
   * Calls the tier answered with a refusal of that one call (a Redis error reply such as WRONGTYPE):
   * the tier is alive, so these never count against the breaker.
   */
  rejected: number
}

/** Options of a {@link TierGuard}. */
export interface TierGuardOptions {
  /** Budget per call: a call not answered within it resolves to its fallback and counts as a failure. */
  readonly timeoutMs: number
  /** Consecutive failures that open the breaker. */
  readonly threshold: number
  /** How long the breaker stays open before one probe is let through. */
  readonly cooldownMs: number
  readonly clock: Clock
  readonly logger: Logger
  /** Told of every breaker state change (for telemetry). */
  readonly onStateChange?: ((state: BreakerState) => void) | undefined
  /**
   * True for an error that proves the tier is up and refused only this call (an error reply, as
   * opposed to a lost connection or a timeout). The composition root passes the adapter's rule;
   * by default every error counts as a failure.
   */
  readonly isRejection?: ((error: unknown) => boolean) | undefined
}

/**
 * The one guard around every call to a shared tier (L2 store, bus). It enforces a time budget,
 * counts failures, drives the circuit breaker and logs state changes once, never per request.
 * A guarded call never rejects: on failure it resolves to the fallback the caller supplies.
 *
 * Every call has the same budget, so deadlines arrive in call order and one timer walking a FIFO
 * replaces a timer per call (a setTimeout/clearTimeout pair costs more than the rest of the guard).
 * The timer is armed for the oldest pending call's own deadline, so a call is answered within a
 * millisecond or two of its budget, never a fraction of the budget later.
 *
 * A call that throws synchronously (an adapter that knows its connection is down) is a failure
 * that costs nothing: no timer, no wait. That is how a refused or lost connection short-circuits.
 *
 * The FIFO is a ring of parallel arrays indexed by call id, not a queue of objects: a call sits in
 * it for the whole budget, and an object per call kept that long survives young-generation GC and
 * gets promoted (each settled call clears its slot, so nothing of it stays reachable). Holding the
 * resolvers in objects cost a third of the L2 hit throughput once; objects alone, about 5%.
 */
export class TierGuard {
  readonly name: string
  readonly stats: GuardStats = { errors: 0, timeouts: 0, skipped: 0, rejected: 0 }
  readonly #timeoutMs: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #breaker: CircuitBreaker
  readonly #isRejection: ((error: unknown) => boolean) | undefined
  #ids = new Float64Array(256).fill(-1)
  #deadlines = new Float64Array(256)
  #resolvers: (((value: unknown) => void) | undefined)[] = new Array<undefined>(256).fill(undefined)
  #fallbacks: unknown[] = new Array<undefined>(256).fill(undefined)
  #maps: (((value: unknown) => unknown) | undefined)[] = new Array<undefined>(256).fill(undefined)
  #mask = 255
  /** Id of the oldest call the sweep has not passed yet, and the next id to hand out. */
  #head = 0
  #tail = 0
  #timer: TimerHandle = undefined
  #lastError: unknown
  /** True while a sweep waits for the I/O already received to be handled (see `#sweep`). */
  #deferred = false
  readonly #sweep = (): void => {
    const now = this.#clock.now()
    // Timers run before I/O in each turn of Node's event loop: after the process was busy (a GC
    // pause, a long synchronous task), answers that arrived before their deadline are still unread
    // when the timer fires. Deciding then would count them as timeouts and could open the breaker
    // over this process's own stall, so the decision waits for that I/O, once.
    if (!this.#deferred && this.#clock.afterIo !== undefined && this.#expiredPending(now)) {
      this.#deferred = true
      this.#clock.afterIo(this.#sweep)
      return
    }
    this.#deferred = false
    this.#timer = undefined
    const later = this.#clock.now()
    while (this.#head < this.#tail) {
      const id = this.#head
      const slot = id & this.#mask
      if (this.#ids[slot] === id) {
        if ((this.#deadlines[slot] as number) > later) break
        this.#fail(new L2Error('E_L2_TIMEOUT', `${this.name} did not answer within ${this.#timeoutMs}ms`, { tier: this.name }), true)
        this.#settle(id, true, undefined)
      }
      this.#head++
    }
    if (this.#head < this.#tail) this.#arm()
  }

  /** Whether the oldest call still pending has passed its deadline. */
  #expiredPending(now: number): boolean {
    for (let id = this.#head; id < this.#tail; id++) {
      const slot = id & this.#mask
      if (this.#ids[slot] === id) return (this.#deadlines[slot] as number) <= now
    }
    return false
  }

  constructor(name: string, options: TierGuardOptions) {
    this.name = name
    this.#isRejection = options.isRejection
    this.#timeoutMs = options.timeoutMs
    this.#clock = options.clock
    this.#logger = options.logger
    this.#breaker = new CircuitBreaker(options.threshold, options.cooldownMs, options.clock, (from, to) => {
      // One line when the tier goes away and one when it is back; a failed half-open probe is silent.
      if (to === 'open' && from === 'closed') {
        this.#logger.warn({ from, error: errorMessage(this.#lastError) }, `${name} unavailable: circuit breaker open, serving from other tiers`)
      } else if (to === 'closed' && from === 'half-open') {
        this.#logger.warn({}, `${name} available again: circuit breaker closed`)
      }
      options.onStateChange?.(to)
    })
  }

  get breakerState(): BreakerState {
    return this.#breaker.state
  }

  /** True when the breaker would let a call through now (does not admit a half-open probe by itself). */
  get available(): boolean {
    return this.#breaker.state === 'closed'
  }

  /**
   * Runs `call` within the budget. Resolves to its result, or to `fallback` when the breaker is
   * open, the call throws, or it does not answer in time (the late answer is then ignored). With
   * `unsent`, resolves to that instead when the call was never attempted (breaker open, or the call
   * threw synchronously): a caller that must know whether a command may have run tells them apart.
   */
  run<T, F, U = F>(call: () => T | Promise<T>, fallback: F, ...unsent: [U?]): Promise<T | F | U> {
    if (!this.#breaker.allow()) {
      this.stats.skipped++
      return Promise.resolve(unsent.length === 0 ? fallback : unsent[0] as U)
    }
    let result: T | Promise<T>
    try {
      result = call()
    } catch (error) {
      // Thrown before anything was sent (an adapter that knows it is down).
      this.#fail(error, false)
      return Promise.resolve(unsent.length === 0 ? fallback : unsent[0] as U)
    }
    return this.#track(result, fallback, undefined) as Promise<T | F>
  }

  /** Tracks a call; `map` (if any) turns its outcome into the answer inside the same promise. */
  #track<T, F>(result: T | Promise<T>, fallback: F, map: ((value: T | F) => unknown) | undefined): Promise<unknown> {
    if (!(result instanceof Promise)) {
      this.#breaker.success()
      return Promise.resolve(map === undefined ? result : map(result))
    }
    const promise = result
    return new Promise<unknown>((resolve) => {
      const id = this.#open(resolve, fallback, map as ((value: unknown) => unknown) | undefined)
      promise.then(
        (value) => {
          if (this.#ids[id & this.#mask] !== id) return
          this.#breaker.success()
          this.#settle(id, false, value)
        },
        (error: unknown) => {
          if (this.#ids[id & this.#mask] !== id) return
          this.#fail(error, false)
          this.#settle(id, true, undefined)
        },
      )
    })
  }

  #open(resolve: (value: unknown) => void, fallback: unknown, map: ((value: unknown) => unknown) | undefined): number {
    if (this.#tail - this.#head > this.#mask) {
      // Full: first skip calls already settled, then grow.
      while (this.#head < this.#tail && this.#ids[this.#head & this.#mask] !== this.#head) this.#head++
      if (this.#tail - this.#head > this.#mask) this.#grow()
    }
    const id = this.#tail++
    const slot = id & this.#mask
    this.#ids[slot] = id
    this.#deadlines[slot] = this.#clock.now() + this.#timeoutMs
    this.#resolvers[slot] = resolve
    this.#fallbacks[slot] = fallback
    this.#maps[slot] = map
    if (this.#timer === undefined) this.#arm()
    return id
  }

  /** Answers call `id` once (with its fallback, or `value`) and frees its slot. */
  #settle(id: number, useFallback: boolean, value: unknown): void {
    const slot = id & this.#mask
    const resolve = this.#resolvers[slot]
    if (this.#ids[slot] !== id || resolve === undefined) return
    const result = useFallback ? this.#fallbacks[slot] : value
    const map = this.#maps[slot]
    this.#ids[slot] = -1
    this.#resolvers[slot] = undefined
    this.#fallbacks[slot] = undefined
    this.#maps[slot] = undefined
    if (map === undefined) {
      resolve(result)
      return
    }
    try {
      resolve(map(result))
    } catch (error) {
      resolve(Promise.reject(error instanceof Error ? error : new Error(String(error))))
    }
  }

  #grow(): void {
    const capacity = (this.#mask + 1) * 2
    const mask = capacity - 1
    const ids = new Float64Array(capacity).fill(-1)
    const deadlines = new Float64Array(capacity)
    const resolvers = new Array<((value: unknown) => void) | undefined>(capacity).fill(undefined)
    const fallbacks = new Array<unknown>(capacity).fill(undefined)
    const maps = new Array<((value: unknown) => unknown) | undefined>(capacity).fill(undefined)
    for (let id = this.#head; id < this.#tail; id++) {
      const from = id & this.#mask
      const to = id & mask
      ids[to] = this.#ids[from] as number
      deadlines[to] = this.#deadlines[from] as number
      resolvers[to] = this.#resolvers[from]
      fallbacks[to] = this.#fallbacks[from]
      maps[to] = this.#maps[from]
    }
    this.#ids = ids
    this.#deadlines = deadlines
    this.#resolvers = resolvers
    this.#fallbacks = fallbacks
    this.#maps = maps
    this.#mask = mask
  }

  /**
   * `run(() => store.get(key), undefined).then(map)` in one promise and without the call closure:
   * the L2 read hot path (each promise layer costs an allocation and a microtask there).
   */
  runWith<T, R>(store: { get(key: string): T | Promise<T> }, key: string, map: (value: T | undefined) => R | Promise<R>): Promise<R> {
    if (!this.#breaker.allow()) {
      this.stats.skipped++
      return Promise.resolve(map(undefined))
    }
    let result: T | Promise<T>
    try {
      result = store.get(key)
    } catch (error) {
      this.#fail(error, false)
      return Promise.resolve(map(undefined))
    }
    return this.#track(result, undefined, map) as Promise<R>
  }

  /** Records a failure observed outside `run` (a bus connection drop, for example). */
  reportFailure(error: unknown): void {
    this.#fail(error, false)
  }

  /** Records a success observed outside `run`. */
  reportSuccess(): void {
    this.#breaker.success()
  }

  /** Stops the sweep timer; pending calls resolve to their fallback. */
  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    for (let id = this.#head; id < this.#tail; id++) this.#settle(id, true, undefined)
    this.#head = this.#tail
  }

  #arm(): void {
    const slot = this.#head & this.#mask
    const wait = this.#ids[slot] === this.#head ? Math.max((this.#deadlines[slot] as number) - this.#clock.now(), 0) : this.#timeoutMs
    this.#timer = this.#clock.setTimeout(this.#sweep, wait + 1)
  }

  #fail(error: unknown, timeout: boolean): void {
    if (!timeout && this.#isRejection !== undefined && this.#isRejection(error)) {
      // The tier answered: it is up. Counted, never held against the breaker.
      this.stats.rejected++
      this.#breaker.success()
      return
    }
    this.stats.errors++
    if (timeout) this.stats.timeouts++
    this.#lastError = error
    this.#breaker.failure()
  }
}

function errorMessage(error: unknown): string | undefined {
  if (error === undefined) return undefined
  return error instanceof Error ? error.message : typeof error === 'string' ? error : 'non-Error thrown'
}
