import { Counters } from './stats.js'
import { channels } from './telemetry.js'

/**
 * Counts every read outcome and publishes it on the diagnostics channels, the same way whatever
 * path the read took (`get`, `getOrSet`, `getMany`, a fill waiting for another process). Publishing
 * checks `hasSubscribers` first, so with nobody listening a hit is one increment.
 */
export class ReadRecorder {
  readonly counters = new Counters()
  readonly #namespace: string

  constructor(namespace: string) {
    this.#namespace = namespace
  }

  l1Hit(key: string): void {
    this.counters.l1Hits++
    if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.#namespace, key, tier: 'l1' })
  }

  l1Miss(): void {
    this.counters.l1Misses++
  }

  l2Hit(key: string): void {
    this.counters.l2Hits++
    if (channels.hit.hasSubscribers) channels.hit.publish({ namespace: this.#namespace, key, tier: 'l2' })
  }

  l2Miss(): void {
    this.counters.l2Misses++
  }

  /** Nothing fresh in any tier: the read returns undefined, or goes to a loader (here or in another process). */
  miss(key: string): void {
    if (channels.miss.hasSubscribers) channels.miss.publish({ namespace: this.#namespace, key })
  }

  /** A loader settled. */
  load(key: string, durationMs: number, ok: boolean, timedOut: boolean): void {
    if (channels.load.hasSubscribers) channels.load.publish({ namespace: this.#namespace, key, durationMs, ok, timedOut })
  }

  stale(key: string, reason: string): void {
    this.counters.staleServed++
    if (channels.stale.hasSubscribers) channels.stale.publish({ namespace: this.#namespace, key, reason })
  }

  flush(reason: string): void {
    this.counters.flushes++
    if (channels.flush.hasSubscribers) channels.flush.publish({ namespace: this.#namespace, reason })
  }
}
