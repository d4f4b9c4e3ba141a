/**
 * The store contract: one suite, run against every CacheStore adapter (memory LRU, standalone
 * Redis, Redis Cluster, and each later store). An adapter that passes it can sit behind the cache.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Clock } from '../../src/ports/clock.js'
import type { CacheEntry } from '../../src/ports/entry.js'
import { jsonSerializer } from '../../src/core/serializer.js'
import type { CacheStore } from '../../src/ports/store.js'

export interface StoreHarness {
  /** Two stores on the same backend with different namespaces. */
  readonly store: CacheStore
  readonly other: CacheStore
  readonly clock: Clock
  /** Moves time for the store: a ManualClock advance, or a real wait for Redis's own clock. */
  advance(ms: number): Promise<void>
  cleanup(): Promise<void>
}

/** Builds an entry as the cache would, with times from `clock`. */
export function makeEntry(value: unknown, clock: Clock, options: { ttl?: number; grace?: number; tags?: string[]; tagVersions?: number[]; version?: number } = {}): CacheEntry {
  const now = clock.now()
  const { bytes } = jsonSerializer.serialize(value)
  const freshUntil = now + (options.ttl ?? 60_000)
  return {
    value,
    bytes,
    size: bytes.length,
    createdAt: now,
    freshUntil,
    staleUntil: freshUntil + (options.grace ?? 0),
    tags: options.tags ?? [],
    tagVersions: options.tagVersions,
    version: options.version,
    loadMs: 3,
  }
}

export function describeStoreContract(name: string, create: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    let h: StoreHarness

    beforeEach(async () => {
      h = await create()
    })
    afterEach(async () => {
      await h.cleanup()
    })

    it('answers a miss with undefined, not an error', async () => {
      expect(await h.store.get('missing')).toBeUndefined()
    })

    it('returns what was set, with its metadata', async () => {
      const entry = makeEntry({ id: 42, name: 'héllo ☃', nested: [1, null, { a: true }] }, h.clock,
        { ttl: 30_000, grace: 60_000, tags: ['item:42', 'list'], tagVersions: [3, 7], version: 1234 })
      await h.store.set('item:42', entry)
      const got = await h.store.get('item:42')
      expect(got).toBeDefined()
      expect(got!.value).toEqual(entry.value)
      expect(got!.freshUntil).toBe(entry.freshUntil)
      expect(got!.staleUntil).toBe(entry.staleUntil)
      expect(got!.createdAt).toBe(entry.createdAt)
      expect(got!.loadMs).toBe(entry.loadMs)
      expect(got!.tags).toEqual(['item:42', 'list'])
      expect(got!.tagVersions).toEqual([3, 7])
      expect(got!.version).toBe(1234)
      expect(got!.size).toBe(entry.size)
    })

    it('keeps null, strings, numbers and arrays as they were', async () => {
      for (const [key, value] of [['null', null], ['string', 'text'], ['number', 3.25], ['array', [1, 'two', [3]]], ['zero', 0], ['empty', '']] as const) {
        await h.store.set(key, makeEntry(value, h.clock))
        expect((await h.store.get(key))?.value).toEqual(value)
      }
    })

    it('treats awkward keys as opaque: braces, colons, spaces, unicode, 1 KiB', async () => {
      const keys = ['a{b}c', '}{', '{x}', 'user:1:profile', 'with space', 'ключ-🔑', 'k'.repeat(1024)]
      for (const key of keys) await h.store.set(key, makeEntry(key, h.clock))
      for (const key of keys) expect((await h.store.get(key))?.value).toBe(key)
    })

    it('replaces on set', async () => {
      await h.store.set('k', makeEntry('v1', h.clock))
      await h.store.set('k', makeEntry('v2', h.clock))
      expect((await h.store.get('k'))?.value).toBe('v2')
    })

    it('forgets an entry once its staleUntil has passed', async () => {
      // Lifetimes long enough that a loaded machine reads 'short' before Redis's own clock ends it.
      await h.store.set('short', makeEntry('v', h.clock, { ttl: 500, grace: 500 }))
      await h.store.set('long', makeEntry('v', h.clock, { ttl: 60_000 }))
      expect((await h.store.get('short'))?.value).toBe('v')
      await h.advance(1_200)
      expect(await h.store.get('short')).toBeUndefined()
      expect((await h.store.get('long'))?.value).toBe('v')
    })

    it('keeps a stale entry until the end of its grace (freshness is the cache\'s call)', async () => {
      await h.store.set('graced', makeEntry('v', h.clock, { ttl: 20, grace: 60_000 }))
      await h.advance(100)
      const got = await h.store.get('graced')
      expect(got?.value).toBe('v')
      expect(got!.freshUntil).toBeLessThan(h.clock.now())
    })

    it('does not store an entry that is already dead, and removes the older copy', async () => {
      await h.store.set('dead', makeEntry('old', h.clock))
      const now = h.clock.now()
      await h.store.set('dead', { ...makeEntry('new', h.clock), freshUntil: now - 10, staleUntil: now - 5 })
      expect(await h.store.get('dead')).toBeUndefined()
    })

    it('deletes and says whether something was there', async () => {
      await h.store.set('k', makeEntry('v', h.clock))
      expect(await h.store.delete('k')).toBe(true)
      expect(await h.store.delete('k')).toBe(false)
      expect(await h.store.get('k')).toBeUndefined()
    })

    it('getMany answers in key order with undefined for misses', async () => {
      const keys = Array.from({ length: 50 }, (_, i) => `many:${i}`)
      await h.store.setMany(keys.filter((_, i) => i % 3 !== 0).map((k) => [k, makeEntry(k.toUpperCase(), h.clock)] as const))
      const got = await h.store.getMany(keys)
      expect(got).toHaveLength(50)
      got.forEach((entry, i) => {
        if (i % 3 === 0) expect(entry).toBeUndefined()
        else expect(entry?.value).toBe(keys[i]!.toUpperCase())
      })
      expect(await h.store.getMany([])).toEqual([])
    })

    it('deleteMany counts what it removed', async () => {
      await h.store.setMany([['a', makeEntry(1, h.clock)], ['b', makeEntry(2, h.clock)]])
      expect(await h.store.deleteMany(['a', 'b', 'c'])).toBe(2)
      expect(await h.store.getMany(['a', 'b'])).toEqual([undefined, undefined])
    })

    it('clear removes its own namespace and nothing else', async () => {
      await h.store.setMany(Array.from({ length: 30 }, (_, i) => [`c:${i}`, makeEntry(i, h.clock)] as const))
      await h.other.set('c:1', makeEntry('other', h.clock))
      await h.store.clear()
      expect((await h.store.getMany(['c:0', 'c:1', 'c:29'])).every((e) => e === undefined)).toBe(true)
      expect((await h.other.get('c:1'))?.value).toBe('other')
    })

    it('isolates namespaces', async () => {
      await h.store.set('same', makeEntry('mine', h.clock))
      await h.other.set('same', makeEntry('theirs', h.clock))
      expect((await h.store.get('same'))?.value).toBe('mine')
      expect((await h.other.get('same'))?.value).toBe('theirs')
    })
  })
}
