/**
 * Cache warming on real Redis: bounded concurrency against the source, batched L2 round trips,
 * progress, cancellation and resumption without loading a key twice, top-n by score, fencing
 * against invalidations, errors that do not stop the run.
 */
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { WarmProgress } from '../../src/core/warm.js'
import type { CacheStore } from '../../src/ports/store.js'
import { createRedisStore } from '../../src/redis/redis-store.js'
import { freshNamespace } from '../helpers/namespace.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

function cache(namespace = freshNamespace('warm')): TierCache {
  // A 2 s budget: these tests are about the load on the source, and a loaded test machine can miss
  // 100 ms for real (what a missed budget does is the boundary tests' subject).
  const c = createCache({ namespace, logger: false, ttl: '10m', l2: { redis: inject('redisUrl'), timeout: '2s' } })
  cleanups.push(() => c.close())
  return c
}

/** A source that counts its loads and how many run at once. */
function source(delayMs = 0): { load: (ctx: { key: string }) => Promise<string>; calls: string[]; inFlight: () => number; maxInFlight: () => number } {
  let inFlight = 0
  let max = 0
  const calls: string[] = []
  return {
    calls,
    inFlight: () => inFlight,
    maxInFlight: () => max,
    load: async ({ key }) => {
      calls.push(key)
      inFlight++
      max = Math.max(max, inFlight)
      await new Promise((r) => (delayMs === 0 ? setImmediate(r) : setTimeout(r, delayMs)))
      inFlight--
      return `value of ${key}`
    },
  }
}

const keys = (n: number, prefix = 'item:'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('warm', () => {
  it('10,000 keys with concurrency 8: never more than 8 loads in flight, each key loaded once, readable from every node', async () => {
    const namespace = freshNamespace('warm')
    // The real Redis store, wrapped to count the calls the warming makes on it.
    const counts = new Map<string, number>()
    const redisStore = createRedisStore({ redis: inject('redisUrl'), namespace })
    cleanups.push(() => redisStore.close())
    const counted = new Proxy(redisStore, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          counts.set(String(prop), (counts.get(String(prop)) ?? 0) + 1)
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    }) as unknown as CacheStore
    const warmer = createCache({ namespace, logger: false, ttl: '10m', l2: { store: counted, timeout: '2s' } })
    cleanups.push(() => warmer.close())
    const src = source()
    const progress: WarmProgress[] = []
    const result = await warmer.warm(keys(10_000), src.load, { concurrency: 8, batchSize: 100, onProgress: (p) => progress.push(p) })
    expect(result).toMatchObject({ done: 10_000, total: 10_000, loaded: 10_000, skipped: 0, errors: 0, cancelled: false })
    expect(src.maxInFlight()).toBeLessThanOrEqual(8)
    expect(src.maxInFlight()).toBe(8) // and the bound was used, not undershot
    expect(new Set(src.calls).size).toBe(10_000)
    expect(src.calls).toHaveLength(10_000)
    // One L2 round trip per batch of 100 to skip warm keys.
    expect(counts.get('getMany')).toBe(100)
    // Progress was reported along the way, growing, and once at the end.
    expect(progress.at(-1)).toMatchObject({ done: 10_000, total: 10_000 })
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done)
    const other = cache(namespace)
    expect(await other.getMany(['item:0', 'item:5000', 'item:9999'])).toEqual(['value of item:0', 'value of item:5000', 'value of item:9999'])
  })

  it('cancel stops it; a second run loads only the keys the first did not, each exactly once overall', async () => {
    const c = cache()
    const src = source()
    const controller = new AbortController()
    const first = await c.warm(keys(10_000), src.load, {
      concurrency: 8, signal: controller.signal,
      onProgress: (p) => { if (p.done >= 1_000) controller.abort() },
    })
    expect(first.cancelled).toBe(true)
    expect(first.done).toBeGreaterThanOrEqual(1_000)
    expect(first.done).toBeLessThan(10_000)
    // Resolved only once the loads it started had settled: nothing of it is still running.
    expect(src.inFlight()).toBe(0)
    const loadedFirst = src.calls.length
    expect(first.loaded).toBe(loadedFirst)
    const second = await c.warm(keys(10_000), src.load, { concurrency: 8 })
    expect(second, JSON.stringify({ first, second, stats: c.stats() })).toMatchObject({ cancelled: false })
    expect(second).toMatchObject({ cancelled: false, skipped: loadedFirst, loaded: 10_000 - loadedFirst })
    expect(src.calls).toHaveLength(10_000)
    expect(new Set(src.calls).size).toBe(10_000)
    // A third run has nothing to do.
    const third = await c.warm(keys(10_000), src.load, { concurrency: 8 })
    expect(third).toMatchObject({ skipped: 10_000, loaded: 0 })
    expect(src.calls).toHaveLength(10_000)
  })

  it('cancel stops it while an async source of keys has stalled, and tells the source to stop', async () => {
    const c = cache()
    const src = source()
    const controller = new AbortController()
    let returned = false
    // 20 keys, then a source that never answers again (a cursor on a database that went quiet).
    let given = 0
    const stalled: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () => (given < 20 ? Promise.resolve({ done: false, value: `stall:${given++}` }) : new Promise<IteratorResult<string>>(() => {})),
        return: () => { returned = true; return Promise.resolve({ done: true, value: undefined }) },
      }),
    }
    const warming = c.warm(stalled, async (ctx) => {
      const value = await src.load(ctx)
      // The 20th load: every key the source gave is loaded, and it is now waiting on the source.
      if (src.calls.length === 20) controller.abort()
      return value
    }, { concurrency: 4, batchSize: 10, signal: controller.signal })
    const result = await warming
    expect(result).toMatchObject({ cancelled: true, loaded: 20, errors: 0 })
    expect(returned).toBe(true)
    expect(await cache(c.namespace).get('stall:19')).toBe('value of stall:19')
  })

  it('warmTop loads the n keys of highest score, highest first', async () => {
    const c = cache()
    const src = source()
    const items = Array.from({ length: 1_000 }, (_, i) => ({ key: `p:${i}`, score: (i * 7919) % 1_000 }))
    const result = await c.warmTop(items, 10, src.load, { concurrency: 1 })
    expect(result).toMatchObject({ loaded: 10, total: 10 })
    const expected = [...items].sort((x, y) => y.score - x.score).slice(0, 10).map((i) => i.key)
    expect(src.calls).toEqual(expected)
  })

  it('a key invalidated while it loads is not written; a failing load is counted and the rest goes on', async () => {
    const namespace = freshNamespace('warm')
    const a = cache(namespace)
    const b = cache(namespace)
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    let started!: () => void
    const loading = new Promise<void>((resolve) => { started = resolve })
    const warming = a.warm(['slow', 'bad', 'ok'], async ({ key }) => {
      if (key === 'bad') throw new Error('row is corrupt')
      if (key === 'slow') {
        started()
        await held
      }
      return `v:${key}`
    }, { concurrency: 3 })
    await loading
    await b.delete('slow') // the row changed while it was being read
    release()
    const result = await warming
    expect(result).toMatchObject({ loaded: 1, skipped: 1, errors: 1 })
    expect(result.failures).toEqual([{ key: 'bad', error: new Error('row is corrupt') }])
    expect(await b.get('slow')).toBeUndefined()
    expect(await b.get('ok')).toBe('v:ok')
  })

  it('refuses bad options before loading anything; without L2 it warms L1', async () => {
    const c = cache()
    const src = source()
    await expect(c.warm(keys(3), src.load, { concurrency: 0 })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    await expect(c.warm(keys(3), src.load, { concurency: 2 } as never)).rejects.toThrow(/did you mean concurrency/)
    await expect(c.warmTop([{ key: 'a', score: Number.NaN }], 1, src.load)).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    expect(src.calls).toEqual([])
    const local = createCache({ logger: false })
    cleanups.push(() => local.close())
    async function* generate(): AsyncGenerator<string> {
      for (let i = 0; i < 50; i++) yield `g:${i}`
    }
    const result = await local.warm(generate(), src.load, { concurrency: 4 })
    expect(result).toMatchObject({ loaded: 50, total: undefined })
    expect(local.peek('g:49')).toBe('value of g:49')
  })
})
