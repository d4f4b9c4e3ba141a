import type { Clock, TimerHandle } from '../ports/clock.js'

/**
 * The production clock. `Date.now()` costs about 40 ns here, more than a whole lru-cache lookup, so
 * the reading is cached and refreshed at least every millisecond (a lazily armed timer) and at least
 * every 256 reads (a chain of microtasks never reaches the timer phase, so the counter bounds how
 * long a tight `await` loop can run on a frozen reading). lru-cache's `ttlResolution` does the same.
 */
export class SystemClock implements Clock {
  #now = 0
  #reads = 0
  #armed = false
  readonly #expire = (): void => {
    this.#now = 0
    this.#armed = false
  }

  now(): number {
    if (this.#now === 0 || ++this.#reads > 255) {
      this.#reads = 0
      this.#now = Date.now()
      if (!this.#armed) {
        this.#armed = true
        setTimeout(this.#expire, 1).unref()
      }
    }
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout)
  }

  afterIo(fn: () => void): void {
    setImmediate(fn)
  }
}

/** The shared production clock. */
export const systemClock: Clock = new SystemClock()
