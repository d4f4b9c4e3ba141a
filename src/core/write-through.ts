import { randomBytes } from 'node:crypto'
import type { CacheEntry } from '../ports/entry.js'
import type { SourceWrite, WriteContext } from './cache-types.js'
import type { Coherence } from './coherence.js'
import type { EntryBuilder } from './entry-builder.js'
import { InvalidOptionError } from './errors.js'
import type { L1Tier } from './l1-tier.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import type { TagCheck } from './tag-check.js'
import type { Writer } from './writer.js'

/** How long a write-through's fence holds in Redis when fill leases are off (otherwise `lease.ttl`). */
const DEFAULT_FENCE_MS = 10_000

/** The tier objects a write-through works on. */
export interface WriteThroughTiers {
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly tags: TagCheck
  readonly coherence: Coherence
  readonly builder: EntryBuilder
  readonly writer: Writer
}

/**
 * Write-through: the source write first, the cache after it, fenced like a fill.
 *
 * 1. Before the source write, a token is registered on the key in Redis (see ports/write-fence.ts):
 *    fills in flight lose their lease (they may have read the row before this commit) and new fills
 *    wait for this value instead of reading the source mid-write.
 * 2. The source write runs. If it throws, the token is withdrawn and the error reaches the caller:
 *    no entry was touched.
 * 3. The committed value is stored only if the token still holds (no invalidation or explicit set
 *    of the key meanwhile: a concurrent invalidation wins) and Redis has seen no newer version.
 *    Other nodes are told to drop their L1 copy; this node keeps the value in L1.
 * 4. Whenever the outcome is uncertain (the token was voided or expired, Redis did not answer, the
 *    fence could not be set, the value cannot be cached), the key is invalidated instead, through
 *    the outbox when Redis is unreachable: the cache may lose the value, never keep an older one.
 */
export class WriteThrough {
  readonly #l1: L1Tier
  readonly #shared: SharedTier | undefined
  readonly #tags: TagCheck
  readonly #coherence: Coherence
  readonly #builder: EntryBuilder
  readonly #writer: Writer
  readonly #fenceMs: number
  readonly #tagTtl: number

  constructor(settings: CacheSettings, tiers: WriteThroughTiers) {
    this.#l1 = tiers.l1
    this.#shared = tiers.shared
    this.#tags = tiers.tags
    this.#coherence = tiers.coherence
    this.#builder = tiers.builder
    this.#writer = tiers.writer
    this.#fenceMs = settings.lease === false ? DEFAULT_FENCE_MS : settings.lease.ttl
    this.#tagTtl = settings.tagTtl
  }

  async run<T>(key: string, write: SourceWrite<T>, spec: { ttl: number; grace: number; tags: readonly string[] }): Promise<T> {
    // Taken before anything else: an invalidation of the key on this node from now on wins.
    const stamp = this.#l1.generations.stamp(key)
    const tagVersions = spec.tags.length === 0 ? undefined : await this.#tags.current(spec.tags)
    const token = await this.#begin(key)
    let version: number | undefined
    const context: WriteContext = {
      key,
      setVersion: (value) => {
        if (!Number.isFinite(value)) throw new InvalidOptionError('version', 'a finite number', value)
        version = value
      },
    }
    let value: T
    try {
      value = await write(context)
    } catch (error) {
      if (token !== undefined) await this.#abort(key, token)
      throw error
    }
    let entry: CacheEntry | undefined
    try {
      entry = this.#builder.build(key, value, {
        ttl: spec.ttl, grace: spec.grace, tags: spec.tags, tagVersions, loadMs: 0, version,
        maxLifetime: spec.tags.length === 0 ? Number.POSITIVE_INFINITY : this.#tagTtl,
      })
    } catch {
      // The source changed but this value cannot be cached (undefined, too large, not
      // serializable): whatever the cache holds for the key is now old.
      entry = undefined
    }
    if (entry === undefined) await this.#invalidate(key, version)
    else await this.#apply(key, entry, stamp, token)
    return value
  }

  /** Registers the fence; undefined when the shared tier has none or could not set it. */
  async #begin(key: string): Promise<string | undefined> {
    const shared = this.#shared
    const fence = shared?.fence
    if (shared === undefined || fence === undefined) return undefined
    const token = `w${randomBytes(12).toString('hex')}`
    const ok = await shared.call(() => fence.beginWrite(key, token, this.#fenceMs).then(() => true), false)
    return ok ? token : undefined
  }

  async #abort(key: string, token: string): Promise<void> {
    const shared = this.#shared as SharedTier
    const fence = shared.fence
    // Best effort: a token left behind expires with the fence and only makes fills wait for it.
    if (fence !== undefined) await shared.call(() => fence.abortWrite(key, token), undefined)
  }

  async #apply(key: string, entry: CacheEntry, stamp: number, token: string | undefined): Promise<void> {
    const shared = this.#shared
    if (shared === undefined) {
      // L1 only: an invalidation of the key during the write wins, and so does a newer version held.
      const held = this.#l1.store?.peek(key)
      const older = entry.version !== undefined && held?.version !== undefined && held.version > entry.version
      if (!older && !this.#l1.generations.changed(key, stamp)) this.#l1.write(key, entry)
      else if (!older) this.#l1.drop(key)
      await this.#publish(key)
      return
    }
    const fence = shared.fence
    if (token === undefined || fence === undefined) {
      // Without a fence, a value written now could land after a concurrent invalidation of a newer
      // commit and outlive it: invalidate instead.
      await this.#invalidate(key, entry.version)
      return
    }
    const result = await shared.call(() => fence.commitWrite(key, entry, token), undefined)
    if (result === 'ok') {
      if (this.#l1.generations.changed(key, stamp)) this.#l1.drop(key)
      else this.#l1.write(key, entry)
      await this.#publish(key)
    } else if (result === 'outdated') {
      // A newer version is in Redis: this node reads it from there.
      this.#l1.drop(key)
    } else {
      // 'lost': the key was invalidated or set while the source write ran, or the fence expired
      // (a fill may then have read the source before this commit). undefined: Redis did not answer,
      // so the commit may or may not have run. Either way, nothing here can say what is current.
      await this.#invalidate(key, entry.version)
    }
  }

  /**
   * Invalidates the key everywhere (the outbox retries what fails). That also voids every write
   * token of the key, this one included: nothing is left to withdraw.
   */
  async #invalidate(key: string, version: number | undefined): Promise<void> {
    this.#l1.drop(key)
    await this.#writer.invalidate([key], [], version)
  }

  /** Tells the other nodes to drop their L1 copy (retried from the outbox when the bus fails). */
  async #publish(key: string): Promise<void> {
    if (this.#coherence.bus !== undefined) await this.#coherence.publish({ keys: [key] })
  }
}
