import type { Clock } from '../ports/clock.js'

/** `closed`: calls pass. `open`: calls fail fast. `half-open`: one probe is in flight. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * A consecutive-failure circuit breaker. After `threshold` failures in a row it opens for
 * `cooldownMs`; then exactly one call is let through as a probe: success closes it, failure opens it
 * again. This is what keeps a dead Redis from costing every request a timeout.
 */
export class CircuitBreaker {
  readonly #threshold: number
  readonly #cooldownMs: number
  readonly #clock: Clock
  readonly #onChange: (from: BreakerState, to: BreakerState) => void
  #state: BreakerState = 'closed'
  #failures = 0
  #openedAt = 0
  #opens = 0

  constructor(threshold: number, cooldownMs: number, clock: Clock, onChange: (from: BreakerState, to: BreakerState) => void) {
    this.#threshold = threshold
    this.#cooldownMs = cooldownMs
    this.#clock = clock
    this.#onChange = onChange
  }

  get state(): BreakerState {
    return this.#state
  }

  /** Times the breaker went from closed or half-open to open. */
  get opens(): number {
    return this.#opens
  }

  /** True when a call may go ahead. In `open` past the cool-down this admits one probe. */
  allow(): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.#cooldownMs) {
      this.#set('half-open')
      return true
    }
    return false
  }

  success(): void {
    this.#failures = 0
    if (this.#state !== 'closed') this.#set('closed')
  }

  failure(): void {
    this.#failures++
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#threshold)) {
      this.#openedAt = this.#clock.now()
      this.#opens++
      this.#set('open')
    }
  }

  #set(state: BreakerState): void {
    const from = this.#state
    this.#state = state
    this.#onChange(from, state)
  }
}
