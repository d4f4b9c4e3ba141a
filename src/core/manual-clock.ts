import type { Clock, TimerHandle } from '../ports/clock.js'

interface Timer {
  readonly id: number
  readonly at: number
  readonly fn: () => void
}

/**
 * A clock that moves only when told to. Timers fire in due order inside {@link ManualClock.advance},
 * so a test can walk a cache through expiry, soft timeouts and breaker cool-downs without sleeping.
 */
export class ManualClock implements Clock {
  #now: number
  #nextId = 1
  #timers: Timer[] = []

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn }
    this.#timers.push(timer)
    return timer.id
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle)
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.length
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. Between timers it yields to the
   * microtask queue so promise chains woken by one timer run before the next fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    // Let work already queued reach the point where it arms its timers before time moves.
    await flushMicrotasks()
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id)
      const next = this.#timers[0]
      if (next === undefined || next.at > target) break
      this.#timers.shift()
      this.#now = Math.max(this.#now, next.at)
      next.fn()
      await flushMicrotasks()
    }
    this.#now = target
    await flushMicrotasks()
  }
}

/**
 * Lets queued promise chains run to their next real wait: each `setImmediate` turn drains the whole
 * microtask queue, and a few turns cover chains that hop through I/O-free callbacks.
 */
export async function flushMicrotasks(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
