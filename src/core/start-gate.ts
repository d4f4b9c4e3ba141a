import type { Clock } from '../ports/clock.js'

/**
 * Holds a new cache's first calls until its tiers have connected: the shared tier (so the fill
 * lease is honoured from the first call) and the bus (so its cursor is positioned before anything
 * is read that an invalidation could make stale). Bounded by the start budget
 * (`l2.connectTimeout`); a tier known to have failed (refused, no answer) opens the gate at once,
 * and calls then fall back as they would for any unavailable tier.
 *
 * Once open, `pending` is undefined and the gate costs the hot path one field read.
 */
export class StartGate {
  #pending: Promise<void> | undefined
  #open: (() => void) | undefined

  constructor(waits: readonly Promise<unknown>[], budgetMs: number, clock: Clock) {
    if (waits.length === 0) return
    this.#pending = new Promise<void>((resolve) => {
      const timer = clock.setTimeout(() => this.#open?.(), budgetMs)
      this.#open = () => {
        clock.clearTimeout(timer)
        this.#open = undefined
        this.#pending = undefined
        resolve()
      }
      void Promise.all(waits).then(() => this.#open?.(), () => this.#open?.())
    })
  }

  /** A promise while the gate is closed; undefined once it is open. */
  get pending(): Promise<void> | undefined {
    return this.#pending
  }

  /** Opens the gate now (the cache is closing: waiting callers are let through to be refused). */
  open(): void {
    this.#open?.()
  }
}
