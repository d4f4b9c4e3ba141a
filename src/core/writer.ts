import type { CacheEntry } from '../ports/entry.js'
import type { Coherence } from './coherence.js'
import type { EntryBuilder } from './entry-builder.js'
import type { L1Tier } from './l1-tier.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import type { TagCheck } from './tag-check.js'

/** The tier objects explicit writes and invalidations work on. */
export interface WriterTiers {
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly tags: TagCheck
  readonly coherence: Coherence
  readonly builder: EntryBuilder
}

/**
 * Explicit writes (`set`, `setMany`) and invalidations, once their arguments are validated:
 * every tier in order (this node's L1 first, then L2, then the bus), with failures turned into
 * outbox entries so no invalidation is lost silently. The cache validates and delegates here.
 */
export class Writer {
  readonly #settings: CacheSettings
  readonly #l1: L1Tier
  readonly #shared: SharedTier | undefined
  readonly #tags: TagCheck
  readonly #coherence: Coherence
  readonly #builder: EntryBuilder

  constructor(settings: CacheSettings, tiers: WriterTiers) {
    this.#settings = settings
    this.#l1 = tiers.l1
    this.#shared = tiers.shared
    this.#tags = tiers.tags
    this.#coherence = tiers.coherence
    this.#builder = tiers.builder
  }

  /** Writes one value everywhere; other nodes drop their L1 copy; an older version never wins. */
  async set(key: string, value: unknown, spec: { ttl: number; grace: number; tags: readonly string[]; version: number | undefined }): Promise<void> {
    const tagVersions = spec.tags.length === 0 ? undefined : await this.#tags.current(spec.tags)
    const entry = this.#build(key, value, spec.ttl, spec.grace, spec.tags, tagVersions, spec.version)
    const held = this.#l1.store?.peek(key)
    const older = spec.version !== undefined && held?.version !== undefined && held.version > spec.version
    this.#l1.drop(key)
    const stamp = this.#l1.stamp(key)
    // L1 is written after L2 answered: if Redis refuses the value (older than what it has seen),
    // this node must not keep it either.
    const refused = await this.#writeShared([[key, entry]], spec.version)
    if (!older && !refused.has(key)) this.#l1.fill(key, entry, stamp)
  }

  /** Writes many values, reading the versions of all their tags in one round trip. */
  async setMany(specs: readonly { key: string; value: unknown; ttl: number; grace: number; tags: readonly string[] }[]): Promise<void> {
    const allTags = [...new Set(specs.flatMap((s) => s.tags))]
    const known = new Map<string, number>()
    if (allTags.length > 0) {
      const versions = await this.#tags.current(allTags)
      allTags.forEach((t, i) => known.set(t, versions[i] as number))
    }
    const built = specs.map((s) => [s.key, this.#build(s.key, s.value, s.ttl, s.grace, s.tags,
      s.tags.length === 0 ? undefined : s.tags.map((t) => known.get(t) as number), undefined)] as [string, CacheEntry])
    const stamps = built.map(([key]) => {
      this.#l1.drop(key)
      return this.#l1.stamp(key)
    })
    const refused = built.length > 0 ? await this.#writeShared(built, undefined) : new Set<string>()
    built.forEach(([key, entry], i) => {
      if (!refused.has(key)) this.#l1.fill(key, entry, stamps[i] as number)
    })
  }

  /**
   * Writes entries already built, each carrying its own source version (an older one never wins):
   * every tier, other nodes drop their L1 copy. Of several entries for one key, the last is kept here.
   */
  async setBuilt(entries: readonly (readonly [string, CacheEntry])[]): Promise<void> {
    if (entries.length === 0) return
    const older = entries.map(([key, entry]) => {
      const held = this.#l1.store?.peek(key)
      return entry.version !== undefined && held?.version !== undefined && held.version > entry.version
    })
    const stamps = entries.map(([key]) => {
      this.#l1.drop(key)
      return this.#l1.stamp(key)
    })
    const refused = await this.#writeShared(entries, undefined)
    entries.forEach(([key, entry], i) => {
      if (!older[i] && !refused.has(key)) this.#l1.fill(key, entry, stamps[i] as number)
    })
  }

  /** Removes keys and invalidates tags in L2 and on every node; failures wait in the outbox. */
  async invalidate(keys: readonly string[], tags: readonly string[], version: number | undefined): Promise<void> {
    const coherence = this.#coherence
    const registry = this.#tags.registry
    const sharedOk = keys.length > 0 ? await coherence.invalidateShared(keys, version) : true
    if (coherence.bus === undefined) {
      // One node (or no bus): tag versions are this process's own.
      for (const tag of tags) registry.bump(tag)
      return
    }
    const message = { keys: keys.length > 0 ? keys : undefined, tags: tags.length > 0 ? tags : undefined, version }
    const receipt = await coherence.publish(message, sharedOk ? [] : keys)
    if (receipt?.tagVersions !== undefined) {
      tags.forEach((tag, i) => registry.observe(tag, receipt.tagVersions?.[i] as number))
    } else {
      // Not confirmed (it waits in the outbox): stop serving the tags here at least.
      for (const tag of tags) registry.bump(tag)
    }
    if (receipt !== undefined && !sharedOk) coherence.retryLater({ keys, version }, keys)
  }

  #build(key: string, value: unknown, ttl: number, grace: number, tags: readonly string[], tagVersions: readonly number[] | undefined,
    version: number | undefined): CacheEntry {
    // Tagged entries must not outlive their tag versions in Redis (see TagRegistry).
    return this.#builder.build(key, value, {
      ttl, grace, tags, tagVersions, loadMs: 0, version, maxLifetime: tags.length === 0 ? Number.POSITIVE_INFINITY : this.#settings.tagTtl,
    })
  }

  /**
   * Writes explicit values to L2 (voiding fill leases) and tells other nodes to drop their L1 copy.
   * Resolves to the keys L2 refused as older than what it has seen. A write that failed leaves the
   * old value in L2, so it is turned into an invalidation and retried from the outbox until L2
   * forgets the old value (other nodes would otherwise read it back for the whole TTL).
   */
  async #writeShared(entries: readonly (readonly [string, CacheEntry])[], version: number | undefined): Promise<Set<string>> {
    let refused = new Set<string>()
    if (this.#shared !== undefined) {
      const result = await this.#shared.write(entries)
      refused = result.refused
      if (result.failed.length > 0) this.#coherence.retryLater({ keys: result.failed, version }, result.failed)
    }
    if (this.#coherence.bus !== undefined) {
      const published = entries.map(([key]) => key).filter((key) => !refused.has(key))
      if (published.length > 0) await this.#coherence.publish({ keys: published })
    }
    return refused
  }
}
