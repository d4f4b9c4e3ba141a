import type { Clock } from '../ports/clock.js'

/**
 * A token bucket on the injected clock: `burst` tokens, refilled at `ratePerSecond`. Takes O(1)
 * and allocates nothing, so refusing a flood costs less than serving it.
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  readonly #clock: Clock
  #tokens: number
  #at: number

  constructor(ratePerSecond: number, burst: number, clock: Clock) {
    this.#rate = ratePerSecond
    this.#burst = burst
    this.#clock = clock
    this.#tokens = burst
    this.#at = clock.now()
  }

  /** Takes a token: true when one was there. */
  take(): boolean {
    this.#refill()
    if (this.#tokens < 1) return false
    this.#tokens--
    return true
  }

  /** Whole seconds until a token is there (at least 1): the `Retry-After` value. */
  retryAfterSeconds(): number {
    this.#refill()
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#rate))
  }

  /** Milliseconds until {@link take} can succeed (0 when a token is there): how long a pacer waits. */
  waitMs(): number {
    this.#refill()
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#rate) * 1000)
  }

  #refill(): void {
    const now = this.#clock.now()
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate)
      this.#at = now
    }
  }
}
