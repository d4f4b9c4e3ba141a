/**
 * Time, injected. Core code never calls `Date.now()` or `setTimeout` directly, so tests can move
 * time by hand and the hit path can use a cheap coarse clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. Entries stored in Redis carry absolute times from this. */
  now(): number
  /** Schedules `fn` after `ms`; the timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
  /**
   * Runs `fn` once the I/O already waiting for this process has been handled (Node's
   * `setImmediate`). A deadline that passed while the process was busy is checked after it, so an
   * answer that arrived in time is not taken for a timeout. A manual clock leaves it out: its
   * deadlines are decided the moment the test moves time.
   */
  afterIo?(fn: () => void): void
}

/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown
