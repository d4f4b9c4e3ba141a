import type { PurgeSelector } from './edge-storage.js'
import type { SharedResult } from './fetcher.js'

/** One origin fetch that concurrent misses of a key wait on (request collapsing). */
export class Flight {
  readonly key: string
  /** Path and kept query: what purges by URL and prefix match. */
  readonly url: string
  /** Aborted when a purge cancels the fetch. */
  readonly controller = new AbortController()
  readonly promise: Promise<SharedResult>
  /** The response's tags, once its headers arrived (purges by tag match them). */
  tags: readonly string[] = []
  /** Requests waiting on this fetch besides the one that started it. */
  waiters = 0
  #resolve!: (result: SharedResult) => void
  #settled = false

  constructor(key: string, url: string) {
    this.key = key
    this.url = url
    this.promise = new Promise<SharedResult>((resolve) => { this.#resolve = resolve })
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted
  }

  /** Answers the waiters (once; later calls are ignored). */
  settle(result: SharedResult): void {
    if (this.#settled) return
    this.#settled = true
    this.#resolve(result)
  }

  matches(selector: PurgeSelector): boolean {
    if (selector.all === true || selector.urls?.includes(this.url) === true) return true
    if (selector.prefixes?.some((p) => this.url.startsWith(p)) === true) return true
    if (selector.tags !== undefined && this.tags.length > 0) for (const tag of this.tags) if (selector.tags.includes(tag)) return true
    return false
  }
}

/**
 * The fetches in flight, by key. A purge cancels the fetches of what it purged: their waiters are
 * told to retry (a new fetch, after the purge), so a fill stalled on a half-dead origin does not
 * hold a URL the operator just purged. The number of waiters per fetch is bounded by the caller.
 */
export class Flights {
  readonly #byKey = new Map<string, Flight>()

  get(key: string): Flight | undefined {
    return this.#byKey.get(key)
  }

  has(key: string): boolean {
    return this.#byKey.has(key)
  }

  start(key: string, url: string): Flight {
    const flight = new Flight(key, url)
    this.#byKey.set(key, flight)
    return flight
  }

  /** Ends a fetch: later misses start a new one. Answers its waiters with `result`. */
  finish(flight: Flight, result: SharedResult): void {
    if (this.#byKey.get(flight.key) === flight) this.#byKey.delete(flight.key)
    flight.settle(result)
  }

  /** Cancels every fetch the purge touches; returns how many. */
  cancel(selector: PurgeSelector): number {
    let n = 0
    for (const flight of [...this.#byKey.values()]) {
      if (!flight.matches(selector)) continue
      n++
      this.#byKey.delete(flight.key)
      flight.controller.abort()
      flight.settle({ kind: 'retry' })
    }
    return n
  }

  get size(): number {
    return this.#byKey.size
  }
}
