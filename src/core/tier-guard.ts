import type { BreakerState } from './circuit-breaker.js'
import { CircuitBreaker } from './circuit-breaker.js'
import type { Clock, TimerHandle } from './clock.js'
import { L2Error } from './errors.js'
import type { Logger } from './logger.js'

/** Counters one guard keeps. */
export interface GuardStats {
  /** Calls that failed: threw, or did not answer in time. */
  errors: number
  /** Of which, calls that did not answer in time. */
  timeouts: number
  /** Calls not attempted because the breaker was open. */
  skipped: number
}

/**
 * One call in flight. It sits in the FIFO for the whole budget, so once settled it must let go of
 * the caller's promise: holding the resolver would keep every result alive for ~budget and push
 * it into the old generation (that cost a third of the L2 hit throughput before this was fixed).
 */
class Pending {
  readonly deadline: number
  settled = false
  #resolve: ((value: unknown) => void) | undefined
  #fallback: unknown
  #map: ((value: unknown) => unknown) | undefined

  constructor(deadline: number, resolve: (value: unknown) => void, fallback: unknown, map: ((value: unknown) => unknown) | undefined) {
    this.deadline = deadline
    this.#resolve = resolve
    this.#fallback = fallback
    this.#map = map
  }

  /** Settles with `value`, or with the fallback when `value` is omitted; later calls do nothing. */
  settle(useFallback: boolean, value?: unknown): void {
    const resolve = this.#resolve
    if (resolve === undefined) return
    this.settled = true
    this.#resolve = undefined
    const fallback = this.#fallback
    const map = this.#map
    this.#fallback = undefined
    this.#map = undefined
    const result = useFallback ? fallback : value
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
}

/**
 * The one guard around every call to a shared tier (L2 store, bus). It enforces a time budget,
 * counts failures, drives the circuit breaker and logs state changes once, never per request.
 * A guarded call never rejects: on failure it resolves to the fallback the caller supplies.
 *
 * Every call has the same budget, so deadlines arrive in call order and one timer walking a FIFO
 * replaces a timer per call (a setTimeout/clearTimeout pair costs more than the rest of the guard).
 * A timeout fires between 1x and 1.25x the budget.
 */
export class TierGuard {
  readonly name: string
  readonly stats: GuardStats = { errors: 0, timeouts: 0, skipped: 0 }
  readonly #timeoutMs: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #breaker: CircuitBreaker
  #queue: Pending[] = []
  #head = 0
  #timer: TimerHandle = undefined
  #lastError: unknown
  readonly #sweep = (): void => {
    this.#timer = undefined
    const now = this.#clock.now()
    const queue = this.#queue
    while (this.#head < queue.length) {
      const p = queue[this.#head] as Pending
      if (!p.settled) {
        if (p.deadline > now) break
        this.#fail(new L2Error('E_L2_TIMEOUT', `${this.name} did not answer within ${this.#timeoutMs}ms`, { tier: this.name }), true)
        p.settle(true)
      }
      this.#head++
    }
    if (this.#head === queue.length) {
      this.#queue = []
      this.#head = 0
    } else {
      if (this.#head > 1024) {
        this.#queue = queue.slice(this.#head)
        this.#head = 0
      }
      this.#arm()
    }
  }

  constructor(name: string, options: { timeoutMs: number; threshold: number; cooldownMs: number; clock: Clock; logger: Logger;
    onStateChange?: (state: BreakerState) => void }) {
    this.name = name
    this.#timeoutMs = options.timeoutMs
    this.#clock = options.clock
    this.#logger = options.logger
    this.#breaker = new CircuitBreaker(options.threshold, options.cooldownMs, options.clock, (from, to) => {
      // One line when the tier goes away and one when it is back; a failed half-open probe is silent.
      if (to === 'open' && from === 'closed') {
        this.#logger.warn(`${name} unavailable: circuit breaker open, serving from other tiers`,
          { from, error: errorMessage(this.#lastError) })
      } else if (to === 'closed' && from === 'half-open') {
        this.#logger.warn(`${name} available again: circuit breaker closed`)
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
   * open, the call throws, or it does not answer in time (the late answer is then ignored).
   */
  run<T, F>(call: () => T | Promise<T>, fallback: F): Promise<T | F> {
    if (!this.#breaker.allow()) {
      this.stats.skipped++
      return Promise.resolve(fallback)
    }
    let result: T | Promise<T>
    try {
      result = call()
    } catch (error) {
      this.#fail(error, false)
      return Promise.resolve(fallback)
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
      const pending = new Pending(this.#clock.now() + this.#timeoutMs, resolve, fallback, map as ((value: unknown) => unknown) | undefined)
      this.#queue.push(pending)
      if (this.#timer === undefined) this.#arm()
      promise.then(
        (value) => {
          if (pending.settled) return
          this.#breaker.success()
          pending.settle(false, value)
        },
        (error: unknown) => {
          if (pending.settled) return
          this.#fail(error, false)
          pending.settle(true)
        },
      )
    })
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
    for (let i = this.#head; i < this.#queue.length; i++) {
      const p = this.#queue[i] as Pending
      p.settle(true)
    }
    this.#queue = []
    this.#head = 0
  }

  #arm(): void {
    const next = this.#queue[this.#head]
    const wait = next === undefined ? this.#timeoutMs : Math.max(next.deadline - this.#clock.now(), 0)
    this.#timer = this.#clock.setTimeout(this.#sweep, wait + (this.#timeoutMs >> 2) + 1)
  }

  #fail(error: unknown, timeout: boolean): void {
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
