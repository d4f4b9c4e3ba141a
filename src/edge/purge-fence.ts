import type { PurgeSelector } from './edge-storage.js'

interface FenceEntry {
  readonly seq: number
  readonly at: number
  readonly all: boolean
  readonly tags: ReadonlySet<string>
  readonly urls: ReadonlySet<string>
  readonly prefixes: readonly string[]
}

/**
 * Recent purges, so a fill cannot undo one. Two races are closed:
 * - an origin request already in flight when a purge arrives: the fill took a ticket
 *   ({@link ticket}) when it started, and any matching purge recorded after that ticket refuses it;
 * - an upstream cache (a shield) that has not applied the purge yet answers from its copy: the
 *   response's `Age` says when it was generated upstream (`now − Age − 1 s`, Age having one-second
 *   resolution), and a matching purge recorded after that time refuses it.
 *
 * Bounded: entries older than the window are dropped, and at most `maxEntries` are kept (the
 * oldest dropped first; every fill that started before the oldest kept purge is then refused).
 */
export class PurgeFence {
  readonly #windowMs: number
  readonly #maxEntries: number
  #entries: FenceEntry[] = []
  #seq = 0
  /** Fills with a ticket below this are refused (entries had to be dropped early). */
  #floor = 0

  constructor(windowMs: number, maxEntries = 10_000) {
    this.#windowMs = windowMs
    this.#maxEntries = maxEntries
  }

  /** Taken by a fill when its origin request starts. */
  ticket(): number {
    return this.#seq
  }

  record(selector: PurgeSelector, at: number): void {
    this.#entries.push({
      seq: ++this.#seq,
      at,
      all: selector.all === true,
      tags: new Set(selector.tags ?? []),
      urls: new Set(selector.urls ?? []),
      prefixes: selector.prefixes ?? [],
    })
    if (this.#entries.length > this.#maxEntries) {
      const dropped = this.#entries.shift()
      if (dropped !== undefined) this.#floor = dropped.seq
    }
  }

  /**
   * True when a fill may be stored. `ticket` is from {@link ticket} at the fill's start;
   * `generatedAt` is the upstream generation time when an upstream cache reported an Age.
   */
  admits(ticket: number, generatedAt: number | undefined, url: string, tags: readonly string[], now: number): boolean {
    this.#trim(now)
    if (ticket < this.#floor) return false
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i] as FenceEntry
      const afterStart = e.seq > ticket
      const afterGeneration = generatedAt !== undefined && e.at > generatedAt
      if (!afterStart && !afterGeneration) break
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
