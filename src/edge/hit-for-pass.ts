import type { Clock } from '../ports/clock.js'

/** Most keys remembered (a flood of distinct uncacheable URLs clears the map, never grows it). */
const MAX_KEYS = 10_000

/**
 * Hit-for-pass (Varnish's name): after a response that could not be shared (private, Set-Cookie,
 * too large), requests for that key skip collapsing for a while, so they do not queue behind one
 * another for a response none of them may share.
 */
export class HitForPass {
  readonly #until = new Map<string, number>()
  readonly #ms: number
  readonly #clock: Clock

  constructor(ms: number, clock: Clock) {
    this.#ms = ms
    this.#clock = clock
  }

  /** True while `key` skips collapsing. */
  active(key: string, now: number): boolean {
    const until = this.#until.get(key)
    return until !== undefined && until > now
  }

  mark(key: string): void {
    if (this.#ms <= 0) return
    if (this.#until.size >= MAX_KEYS) this.#until.clear()
    this.#until.set(key, this.#clock.now() + this.#ms)
  }
}
