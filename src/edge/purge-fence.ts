import type { PurgeSelector } from './edge-storage.js'

interface FenceEntry {
  readonly at: number
  readonly all: boolean
  readonly tags: ReadonlySet<string>
  readonly urls: ReadonlySet<string>
  readonly prefixes: readonly string[]
}

/**
 * Recent purges, so a fill cannot undo one. A response fetched before a purge (an origin request
 * already in flight, or a shield that has not applied the purge yet and answers from its cache) must
 * not be stored after it: {@link admits} refuses a response generated before a matching purge.
 * Generation time is the origin request's start, or `now − Age − 1 s` when an upstream cache
 * reports an age (Age has one-second resolution, hence the extra second).
 *
 * Bounded: entries older than the window are dropped, and at most `maxEntries` are kept (the
 * oldest dropped first, and then every fill older than the oldest kept purge is refused: safe).
 */
export class PurgeFence {
  readonly #windowMs: number
  readonly #maxEntries: number
  #entries: FenceEntry[] = []
  /** Fills generated before this are refused (set when entries had to be dropped early). */
  #floor = 0

  constructor(windowMs: number, maxEntries = 10_000) {
    this.#windowMs = windowMs
    this.#maxEntries = maxEntries
  }

  record(selector: PurgeSelector, at: number): void {
    this.#entries.push({
      at,
      all: selector.all === true,
      tags: new Set(selector.tags ?? []),
      urls: new Set(selector.urls ?? []),
      prefixes: selector.prefixes ?? [],
    })
    if (this.#entries.length > this.#maxEntries) {
      const dropped = this.#entries.shift()
      if (dropped !== undefined) this.#floor = Math.max(this.#floor, dropped.at)
    }
  }

  /** True when a response generated at `generatedAt` with these tags and URL may be stored. */
  admits(generatedAt: number, url: string, tags: readonly string[], now: number): boolean {
    this.#trim(now)
    if (generatedAt < this.#floor) return false
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i] as FenceEntry
      if (e.at <= generatedAt) break
      if (e.all || e.urls.has(url)) return false
      for (const tag of tags) if (e.tags.has(tag)) return false
      for (const p of e.prefixes) if (url.startsWith(p)) return false
    }
    return true
  }

  #trim(now: number): void {
    const cutoff = now - this.#windowMs
    let drop = 0
    while (drop < this.#entries.length && (this.#entries[drop] as FenceEntry).at < cutoff) drop++
    if (drop > 0) this.#entries = this.#entries.slice(drop)
  }
}
