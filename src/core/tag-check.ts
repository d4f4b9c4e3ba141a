import type { InvalidationBus } from '../ports/bus.js'
import type { CacheEntry } from '../ports/entry.js'
import type { SharedTier } from './shared-tier.js'
import type { TagRegistry } from './tag-registry.js'

/**
 * Answers "was a tag of this entry invalidated after it was loaded?" for every read path. What this
 * process heard is in the registry; a tag it never heard of is looked up in the shared tier (or the
 * bus, when the bus versions tags itself) before an entry carrying it is trusted.
 */
export class TagCheck {
  readonly registry: TagRegistry
  readonly #shared: SharedTier | undefined
  readonly #bus: InvalidationBus | undefined

  constructor(registry: TagRegistry, shared: SharedTier | undefined, bus: InvalidationBus | undefined) {
    this.registry = registry
    this.#shared = shared
    this.#bus = bus
  }

  /** The versions of `tags` now: known locally, else read from the shared tier (0 when unknown everywhere). */
  async current(tags: readonly string[]): Promise<number[]> {
    const registry = this.registry
    const known = registry.versions(tags)
    if (known !== undefined) return known
    let fetched: number[] | undefined
    const coherent = this.#shared?.coherent
    if (coherent !== undefined) fetched = await this.#shared?.call(() => coherent.tagVersions(tags), undefined)
    else if (this.#bus?.tagVersions !== undefined) fetched = await this.#bus.tagVersions(tags).catch(() => undefined)
    tags.forEach((tag, i) => registry.observe(tag, fetched?.[i] ?? 0))
    return registry.versions(tags) ?? tags.map(() => 0)
  }

  /** True when no tag of `entry` was invalidated after it was loaded (asks the shared tier for unknown tags). */
  async isCurrent(entry: CacheEntry): Promise<boolean> {
    const state = this.registry.check(entry)
    if (state !== 'unknown') return state === 'valid'
    await this.current(entry.tags)
    return this.registry.check(entry) === 'valid'
  }
}
