import type { Writable } from 'node:stream'
import type { Cluster } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { systemClock } from '../../src/core/clock.js'
import type { CacheEntry } from '../../src/ports/entry.js'
import { EMPTY_TAGS } from '../../src/core/key.js'
import { RedisStore } from '../../src/redis/redis-store.js'
import { freshNamespace } from '../helpers/namespace.js'

// What reaches the socket: `_write` is one chunk written on its own, `_writev` several at once.
interface WriteCount { writes: number; writevs: number; chunks: number }

function countWrites(stream: Writable): WriteCount {
  const count: WriteCount = { writes: 0, writevs: 0, chunks: 0 }
  const s = stream as Writable & { _write: Writable['_write']; _writev?: Writable['_writev'] }
  const write = s._write.bind(s)
  const writev = s._writev?.bind(s)
  s._write = (chunk, encoding, cb): void => {
    count.writes++
    count.chunks++
    write(chunk, encoding, cb)
  }
  if (writev !== undefined) {
    s._writev = (chunks, cb): void => {
      count.writevs++
      count.chunks += chunks.length
      writev(chunks, cb)
    }
  }
  return count
}

function entry(value: unknown): CacheEntry {
  const now = systemClock.now()
  return { value, bytes: undefined, size: 0, createdAt: now, freshUntil: now + 60_000, staleUntil: now + 60_000, loadMs: 0, version: undefined, tags: EMPTY_TAGS, tagVersions: undefined }
}

const stores: RedisStore[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) {
    await store.clear()
    await store.close()
  }
})

describe('write coalescing', () => {
  it('sends the commands of one tick in one socket write, in order', async () => {
    const store = new RedisStore({ redis: inject('redisUrl'), namespace: freshNamespace() })
    stores.push(store)
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
    await store.setMany(keys.map((k, i) => [k, entry(i)] as const))
    const count = countWrites((store.client as unknown as { stream: Writable }).stream)

    const read = await Promise.all(keys.map((k) => store.get(k)))
    expect(read.map((e) => e?.value)).toEqual(keys.map((_, i) => i))
    expect(count).toEqual({ writes: 0, writevs: 1, chunks: 50 })

    // Writes issued in one tick reach Redis in the order they were issued: the last one wins.
    await Promise.all([store.set('k1', entry('first')), store.set('k1', entry('second')), store.delete('k2'), store.set('k2', entry('back'))])
    expect(count.writevs).toBe(2)
    expect((await store.get('k1'))?.value).toBe('second')
    expect((await store.get('k2'))?.value).toBe('back')
    expect(count.writes).toBe(2)

    // Commands issued in later ticks are not held back: each await is a new batch.
    for (const k of keys.slice(0, 3)) await store.get(k)
    expect(count.writes + count.writevs).toBe(7)
  })

  it('on a Cluster, sends one write per node for the commands of one tick', async () => {
    const store = new RedisStore({ cluster: inject('clusterSeeds'), namespace: freshNamespace() })
    stores.push(store)
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`)
    await store.setMany(keys.map((k, i) => [k, entry(i)] as const))
    const cluster = store.client as unknown as Cluster
    const masters = cluster.nodes('master')
    expect(masters.length).toBe(3)
    const counts = masters.map((node) => countWrites(node.stream as Writable))

    const read = await Promise.all(keys.map((k) => store.get(k)))
    expect(read.map((e) => e?.value)).toEqual(keys.map((_, i) => i))
    // 60 keys hash to all three masters; each got its share in one write.
    for (const count of counts) {
      expect(count.writes + count.writevs).toBe(1)
      expect(count.chunks).toBeGreaterThan(1)
    }
    expect(counts.reduce((n, c) => n + c.chunks, 0)).toBe(60)
  })
})
