import type { WriteQueue } from '../ports/write-queue.js'
import type { Loader, SourceWrite, WriteThroughOptions } from './cache-types.js'
import { resolveEntryOptions } from './call-options.js'
import type { Coherence } from './coherence.js'
import type { EntryBuilder } from './entry-builder.js'
import { InvalidOptionError } from './errors.js'
import { assertKey, normalizeTags } from './key.js'
import type { L1Tier } from './l1-tier.js'
import type { PrefixInvalidationResult } from './prefix-invalidation.js'
import { PrefixInvalidator } from './prefix-invalidation.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import type { TagCheck } from './tag-check.js'
import type { ScoredKey, WarmOptions, WarmResult } from './warm.js'
import { Warmer, topByScore } from './warm.js'
import { WriteBehindWriter } from './write-behind.js'
import type { WriteBehindOptions } from './write-behind-options.js'
import { resolveWriteBehind } from './write-behind-options.js'
import { WriteThrough } from './write-through.js'
import type { Writer } from './writer.js'

/** How the composition root lets the core open write-behind queues without knowing Redis. */
export interface WriteQueues {
  /** A queue named `name` in this cache's namespace; `timeoutMs` bounds its blocking reads. */
  open(name: string, timeoutMs: number): WriteQueue
  /** The adapter's rule for "the server refused this one command" (never held against a breaker). */
  readonly isRejection?: ((error: unknown) => boolean) | undefined
}

/** The tier objects the write patterns work on. */
export interface WritePatternTiers {
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly tags: TagCheck
  readonly coherence: Coherence
  readonly builder: EntryBuilder
  readonly writer: Writer
  readonly queues: WriteQueues | undefined
}

/**
 * The write patterns of one cache (write-through, write-behind, warming, prefix invalidation):
 * each call's arguments are validated here, synchronously, before anything starts; the cache then
 * runs the returned work once its tiers are up and tracks it for `close()`.
 */
export class WritePatterns {
  readonly #settings: CacheSettings
  readonly #t: WritePatternTiers
  readonly #writeThrough: WriteThrough
  readonly #prefixes: PrefixInvalidator
  readonly #warmer: Warmer
  readonly #writers = new Set<{ close(): Promise<void> }>()

  constructor(settings: CacheSettings, tiers: WritePatternTiers) {
    this.#settings = settings
    this.#t = tiers
    this.#writeThrough = new WriteThrough(settings, tiers)
    this.#prefixes = new PrefixInvalidator(tiers, settings)
    this.#warmer = new Warmer(settings, tiers)
  }

  /** Prefix removals still running in the background (L2 failed midway). */
  get pendingPrefixes(): number {
    return this.#prefixes.pending
  }

  writeThrough<T>(key: string, write: SourceWrite<T>, options: WriteThroughOptions | undefined): () => Promise<T> {
    assertKey(key)
    if (typeof write !== 'function') throw new InvalidOptionError('write', 'a function (ctx) => committed value', write)
    const { ttl, grace } = resolveEntryOptions(this.#settings, options, 'writeThrough')
    const tags = normalizeTags(options?.tags, key)
    return () => this.#writeThrough.run(key, write, { ttl, grace, tags })
  }

  writeBehind<T>(name: string, options: WriteBehindOptions<T>): WriteBehindWriter<T> {
    const resolved = resolveWriteBehind(this.#settings, name, options)
    const t = this.#t
    const queue = resolved.queue ?? t.queues?.open(name, resolved.timeout)
    if (queue === undefined) {
      throw new InvalidOptionError('queue',
        'a WriteQueue: write-behind needs a durable queue, so the cache needs l2.redis, l2.cluster or l2.client (or pass a queue)', undefined)
    }
    const writer: WriteBehindWriter<T> = new WriteBehindWriter<T>(name, {
      settings: this.#settings, queue, isRejection: t.queues?.isRejection, builder: t.builder, writer: t.writer, l1: t.l1, shared: t.shared,
      coherence: t.coherence, onClose: () => this.#writers.delete(writer),
    }, resolved)
    this.#writers.add(writer)
    return writer
  }

  warm(keys: Iterable<string> | AsyncIterable<string>, loader: Loader<unknown>, options: WarmOptions | undefined): () => Promise<WarmResult> {
    if (typeof loader !== 'function') throw new InvalidOptionError('loader', 'a function', loader)
    if (keys === null || typeof keys !== 'object' || (!(Symbol.iterator in keys) && !(Symbol.asyncIterator in keys))) {
      throw new InvalidOptionError('keys', 'an array or an (async) iterable of keys', keys)
    }
    const resolved = this.#warmer.resolve(options)
    return () => this.#warmer.run(keys, loader, resolved, Array.isArray(keys) ? keys.length : undefined)
  }

  warmTop(items: Iterable<ScoredKey>, n: number, loader: Loader<unknown>, options: WarmOptions | undefined): () => Promise<WarmResult> {
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidOptionError('n', 'a non-negative integer', n)
    if (items === null || typeof items !== 'object' || !(Symbol.iterator in items)) throw new InvalidOptionError('items', 'an iterable of { key, score }', items)
    const keys = topByScore(items, n)
    const run = this.warm(keys, loader, options)
    return run
  }

  invalidatePrefix(prefix: string): () => Promise<PrefixInvalidationResult> {
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidOptionError('prefix', 'a non-empty string', prefix)
    assertKey(prefix)
    const shared = this.#t.shared
    if (shared !== undefined && shared.prefixes === undefined) {
      throw new InvalidOptionError('l2.store', 'a store that can remove keys by prefix (deletePrefixStep) to use invalidatePrefix', shared.store.name)
    }
    return () => this.#prefixes.run(prefix)
  }

  /** The cache is closing: warmings are cancelled and writers closed first (they use its connections). */
  async closeWriters(): Promise<void> {
    this.#warmer.close()
    await Promise.all([...this.#writers].map((writer) => writer.close()))
  }

  /** After the cache's own work settled: background prefix removals give up (logged). */
  close(): void {
    this.#prefixes.close()
  }
}
