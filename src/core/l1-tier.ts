import type { Clock } from '../ports/clock.js'
import type { CacheEntry } from '../ports/entry.js'
import type { L1Store, L1StoreStats } from '../ports/store.js'
import { GenerationGuard } from './generation-guard.js'
import type { ReadRecorder } from './read-recorder.js'
import type { Serializer } from './serializer.js'
import type { TagRegistry } from './tag-registry.js'

/**
 * What {@link L1Tier.check} says of an entry: {@link FRESH} (serve it), {@link UNKNOWN} (fresh by
 * time, but a tag is unknown here: ask the shared tier first) or {@link NOT_FRESH} (past its
 * freshness, or a tag was invalidated). Plain numbers: the check is on every hit.
 */
export type Freshness = typeof FRESH | typeof UNKNOWN | typeof NOT_FRESH
export const FRESH = 0
export const UNKNOWN = 1
export const NOT_FRESH = 2

/**
 * L1 as the cache sees it: the in-process store plus the rules every read and write of it follows.
 * The one fresh-hit check ({@link L1Tier.check}), the one way values leave it ({@link L1Tier.value}),
 * the one way entries enter it ({@link L1Tier.fill}: fenced against invalidations that raced the
 * fill, capped by the hard TTL and, while the bus may be missing messages, by the fence).
 *
 * Without an L1 store every method is a cheap no-op, so callers need no `if (l1)` of their own.
 */
export class L1Tier {
  readonly store: L1Store | undefined
  /** Bumped per key by invalidations: a fill that started before the bump does not write L1. */
  readonly generations = new GenerationGuard()
  readonly tags: TagRegistry
  readonly #clock: Clock
  readonly #clone: boolean
  readonly #maxTtl: number
  readonly #fencedTtl: number
  readonly #serializer: Serializer
  readonly #recorder: ReadRecorder
  #fencedSince = 0

  constructor(store: L1Store | undefined, options: { maxTtl: number; clone: boolean; fencedTtl: number; serializer: Serializer;
    clock: Clock; tags: TagRegistry; recorder: ReadRecorder }) {
    this.store = store
    this.tags = options.tags
    this.#clock = options.clock
    this.#clone = options.clone
    this.#maxTtl = options.maxTtl
    this.#fencedTtl = options.fencedTtl
    this.#serializer = options.serializer
    this.#recorder = options.recorder
  }

  /** The fresh-hit check, for every read path. */
  check(entry: CacheEntry, now: number): Freshness {
    if (entry.freshUntil <= now) return NOT_FRESH
    if (entry.tags.length === 0) return FRESH
    const state = this.tags.check(entry)
    return state === 'valid' ? FRESH : state === 'unknown' ? UNKNOWN : NOT_FRESH
  }

  /** What a caller receives for an L1 entry: the value, or a private copy with `clone`. */
  value(entry: CacheEntry): unknown {
    return this.#clone ? this.#serializer.deserialize(entry.bytes as Buffer) : entry.value
  }

  /** A stamp for {@link L1Tier.fill}: taken before a read of L2 or a load starts. */
  stamp(key: string): number {
    // Without L1 there is nothing to fence: skip hashing the key.
    return this.store === undefined ? 0 : this.generations.stamp(key)
  }

  /** Copies an entry into L1 unless `key` was invalidated (or L1 flushed) since `stamp` was taken. */
  fill(key: string, entry: CacheEntry, stamp: number): void {
    if (this.store === undefined || this.generations.changed(key, stamp)) return
    this.write(key, entry)
  }

  /** Copies an entry into L1 with the hard TTL cap and, while fenced, the fence cap. */
  write(key: string, entry: CacheEntry): void {
    const store = this.store
    if (store === undefined) return
    const now = this.#clock.now()
    const staleUntil = Math.min(entry.staleUntil, now + this.#maxTtl)
    if (staleUntil <= now) return
    store.set(key, {
      value: this.#clone ? undefined : entry.value,
      bytes: this.#clone ? (entry.bytes ?? this.#serializer.serialize(entry.value).bytes) : undefined,
      size: entry.size,
      createdAt: entry.createdAt,
      freshUntil: Math.min(entry.freshUntil, staleUntil, this.fencedUntil),
      staleUntil,
      tags: entry.tags,
      tagVersions: entry.tagVersions,
      version: entry.version,
      loadMs: entry.loadMs,
    })
  }

  /** This process's view of an invalidation of `key`: the L1 copy is gone, fills in flight are fenced. */
  drop(key: string): void {
    this.generations.bump(key)
    this.store?.delete(key)
  }

  /**
   * This process's view of a prefix invalidation: every entry whose key starts with `prefix` is
   * gone, and every fill in flight is fenced (which of them are for matching keys is not known
   * without a per-key record, and a fill losing its write costs only a miss). O(entries in L1).
   */
  dropPrefix(prefix: string): void {
    this.generations.bumpAll()
    const store = this.store
    if (store === undefined) return
    const doomed: string[] = []
    store.forEach((_, key) => { if (key.startsWith(prefix)) doomed.push(key) })
    for (const key of doomed) store.delete(key)
  }

  /**
   * Forgets everything L1 knows (entries, tag versions) and fences every fill in flight: this node
   * may have missed invalidations. Counted and published unless L1 held nothing to lose (`quiet`).
   */
  flush(reason: string, quiet = false): void {
    const held = this.store === undefined ? 0 : this.store.stats().entries
    if (!quiet || held > 0) this.#recorder.flush(reason)
    this.generations.bumpAll()
    this.tags.clear()
    this.store?.clear()
  }

  /** While fenced, entries are written with at most `fencedTtl` of freshness. */
  get fencedUntil(): number {
    return this.#fencedSince === 0 ? Number.POSITIVE_INFINITY : this.#clock.now() + this.#fencedTtl
  }

  get fenced(): boolean {
    return this.#fencedSince !== 0
  }

  /** Starts the fence (idempotent): invalidations may be arriving late or not at all. */
  fence(): void {
    if (this.#fencedSince === 0) this.#fencedSince = this.#clock.now()
  }

  /** Lifts the fence: the bus is following again and has replayed what it missed. */
  unfence(): void {
    this.#fencedSince = 0
  }

  stats(): L1StoreStats | undefined {
    return this.store?.stats()
  }

  clear(): void {
    this.store?.clear()
  }

  close(): void {
    this.store?.close()
  }

  get recorder(): ReadRecorder {
    return this.#recorder
  }
}
