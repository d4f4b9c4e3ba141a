import type { CacheEntry } from '../ports/entry.js'

/**
 * What this process knows of tag versions. An entry records the versions of its tags when its value
 * was loaded; it is valid while each recorded version is at least the known one. Versions only grow
 * (Redis: max(old + 1, server time in µs); locally: a counter), so "at least" is safe and lets a
 * node learn a newer version from an entry another node wrote. Bounded: the oldest tags are
 * forgotten first, and a forgotten tag makes its entries "unknown" (checked against L2), never valid.
 */
export class TagRegistry {
  readonly #versions = new Map<string, number>()
  readonly #max: number

  constructor(max = 100_000) {
    this.#max = max
  }

  get(tag: string): number | undefined {
    return this.#versions.get(tag)
  }

  /** Records a version seen in a message, an L2 read or an entry; keeps the highest. */
  observe(tag: string, version: number): void {
    const known = this.#versions.get(tag)
    if (known !== undefined && known >= version) return
    if (known !== undefined) this.#versions.delete(tag)
    else if (this.#versions.size >= this.#max) {
      const oldest = this.#versions.keys().next().value
      if (oldest !== undefined) this.#versions.delete(oldest)
    }
    this.#versions.set(tag, version)
  }

  /** A local invalidation (no shared tier): the next version. */
  bump(tag: string): number {
    const next = (this.#versions.get(tag) ?? 0) + 1
    this.observe(tag, next)
    return next
  }

  /** Known versions for `tags`, or undefined when any is unknown. */
  versions(tags: readonly string[]): number[] | undefined {
    const out = new Array<number>(tags.length)
    for (let i = 0; i < tags.length; i++) {
      const v = this.#versions.get(tags[i] as string)
      if (v === undefined) return undefined
      out[i] = v
    }
    return out
  }

  /**
   * `valid`: every tag of the entry is at or past the known version. `invalid`: a tag was invalidated
   * after the entry was loaded. `unknown`: a tag's version is not known here (ask L2).
   */
  check(entry: CacheEntry): 'valid' | 'invalid' | 'unknown' {
    const tags = entry.tags
    if (tags.length === 0) return 'valid'
    const recorded = entry.tagVersions
    if (recorded === undefined || recorded.length !== tags.length) return 'invalid'
    let unknown = false
    for (let i = 0; i < tags.length; i++) {
      const known = this.#versions.get(tags[i] as string)
      if (known === undefined) unknown = true
      else if ((recorded[i] as number) < known) return 'invalid'
    }
    return unknown ? 'unknown' : 'valid'
  }

  clear(): void {
    this.#versions.clear()
  }

  get size(): number {
    return this.#versions.size
  }
}
