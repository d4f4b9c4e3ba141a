/**
 * invalidatePrefix on real Redis and a real 3-master Cluster: L2 cleared with cursor SCAN + UNLINK
 * in bounded batches (checked in SLOWLOG: no KEYS, no command over one batch), every node's L1
 * dropped through the bus, fills that started before it fenced, glob characters taken literally,
 * and an L2 failure midway finished in the background.
 */
import type { Redis } from 'ioredis';
import { Cluster } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import type { TierCache } from '../../src/core/cache.js'
import { PREFIX_BATCH } from '../../src/core/prefix-invalidation.js'
import type { CacheStore } from '../../src/ports/store.js'
import { createRedisStore } from '../../src/redis/redis-store.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

function nodes(n: number, options: CacheOptions = {}, namespace = freshNamespace('pfx')): TierCache[] {
  const caches = Array.from({ length: n }, () => createCache({ namespace, logger: false, ttl: '10m', l2: { redis: inject('redisUrl'), timeout: '2s' }, ...options }))
  for (const c of caches) cleanups.push(() => c.close())
  return caches
}

function cold(of: TierCache, l2: CacheOptions['l2'] = { redis: inject('redisUrl'), timeout: '2s' }): TierCache {
  const c = createCache({ namespace: of.namespace, logger: false, l1: false, l2 })
  cleanups.push(() => c.close())
  return c
}

describe('invalidatePrefix', () => {
  it('removes the matching keys from L2 and from every node\'s L1, and nothing else', async () => {
    const [a, b] = nodes(2)
    await a!.setMany([...Array.from({ length: 50 }, (_, i) => ({ key: `user:${i}`, value: i })), ...Array.from({ length: 50 }, (_, i) => ({ key: `order:${i}`, value: i }))])
    await until(async () => (await b!.get('user:7')) === 7 && b!.peek('user:7') === 7 && (await b!.get('order:7')) === 7, 'B to hold both')
    const result = await a!.invalidatePrefix('user:')
    expect(result).toEqual({ deleted: 50, complete: true })
    expect(a!.peek('user:7')).toBeUndefined()
    await until(() => b!.peek('user:7') === undefined, 'B to drop user:7')
    expect(b!.peek('order:7')).toBe(7)
    const reader = cold(a!)
    expect(await reader.getMany(['user:0', 'user:49', 'order:0', 'order:49'])).toEqual([undefined, undefined, 0, 49])
  })

  it('takes glob characters in the prefix literally', async () => {
    const [a] = nodes(1)
    await a!.setMany([{ key: 'a*b:1', value: 1 }, { key: 'ab:1', value: 2 }, { key: 'a?c:1', value: 3 }, { key: 'a[x]:1', value: 4 }, { key: 'a\\z:1', value: 5 }])
    expect(await a!.invalidatePrefix('a*')).toMatchObject({ deleted: 1 })
    expect(await a!.invalidatePrefix('a[x]')).toMatchObject({ deleted: 1 })
    expect(await a!.invalidatePrefix('a\\')).toMatchObject({ deleted: 1 })
    expect(await cold(a!).getMany(['a*b:1', 'ab:1', 'a?c:1', 'a[x]:1', 'a\\z:1'])).toEqual([undefined, 2, 3, undefined, undefined])
  })

  it('a fill that read the source before the invalidation cannot write its value back', async () => {
    const [a, b] = nodes(2)
    let db = 'v0'
    let read!: () => void
    const reading = new Promise<void>((resolve) => { read = resolve })
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    const filling = a!.getOrSet('user:1', async () => {
      const value = db
      read()
      await held
      return value
    })
    await reading
    db = 'v1' // committed, then invalidated by prefix from another node
    const result = await b!.invalidatePrefix('user:')
    expect(result.deleted).toBeGreaterThanOrEqual(1) // the fill's lease
    release()
    expect(await filling).toBe('v0')
    await until(() => a!.stats().loader.calls === 1, 'the fill to finish')
    expect(await cold(a!).get('user:1')).toBeUndefined()
    expect(await a!.getOrSet('user:1', () => db)).toBe('v1')
  })

  it('L2 failing midway: the removal finishes in the background, and only then is the bus told', async () => {
    const namespace = freshNamespace('pfx')
    const store = createRedisStore({ redis: inject('redisUrl'), namespace })
    cleanups.push(() => store.close())
    let failures = 0
    // The real store, made to fail two steps of the removal after the first.
    let steps = 0
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function') return value
        if (prop === 'deletePrefixStep') {
          return (...args: unknown[]) => {
            if (++steps >= 2 && failures < 2) {
              failures++
              return Promise.reject(new Error('chaos: connection reset'))
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args)
          }
        }
        return (value as (...a: unknown[]) => unknown).bind(target)
      },
    }) as unknown as CacheStore
    // A store given as an object brings no bus: this node gets the Redis Streams bus of the others.
    const bus = new RedisStreamBus({ redis: inject('redisUrl'), namespace })
    const [a] = nodes(1, { l2: { store: flaky, timeout: '2s' }, bus }, namespace)
    cleanups.push(() => bus.close())
    const [b] = nodes(1, {}, namespace)
    await a!.setMany(Array.from({ length: 2_000 }, (_, i) => ({ key: `s:${i}`, value: i })))
    await until(async () => (await b!.get('s:1')) === 1 && b!.peek('s:1') === 1, 'B to hold s:1')
    const result = await a!.invalidatePrefix('s:')
    expect(result.complete).toBe(false)
    expect(a!.stats().coherence.pendingPrefixInvalidations).toBe(1)
    // Meanwhile this node does not read matching keys from L2.
    expect(await a!.get('s:1999')).toBeUndefined()
    await until(() => a!.stats().coherence.pendingPrefixInvalidations === 0, 'the removal to finish')
    expect(failures).toBe(2)
    await until(() => b!.peek('s:1') === undefined, 'B to drop s:1')
    const leftovers = await cold(a!).getMany(Array.from({ length: 2_000 }, (_, i) => `s:${i}`))
    expect(leftovers.filter((v) => v !== undefined)).toEqual([])
  })

  it('100,000 keys on a 3-master Cluster: none left, and no single command over one batch (SLOWLOG)', async () => {
    const seeds = inject('clusterSeeds')
    const namespace = freshNamespace('pfxc')
    const admin = new Cluster(seeds, { enableOfflineQueue: true })
    cleanups.push(() => admin.quit())
    const masters = await new Promise<Redis[]>((resolve) => {
      const done = (): void => resolve(admin.nodes('master'))
      if (admin.status === 'ready') done()
      else admin.once('ready', done)
    })
    const [a, b] = nodes(2, { l2: { cluster: seeds, timeout: '2s' } }, namespace)
    for (let i = 0; i < 100_000; i += 1_000) {
      await a!.setMany(Array.from({ length: 1_000 }, (_, j) => ({ key: `bulk:${i + j}`, value: i + j })))
    }
    await a!.setMany(Array.from({ length: 100 }, (_, j) => ({ key: `keep:${j}`, value: j })))
    await until(async () => (await b!.get('bulk:5')) === 5 && b!.peek('bulk:5') === 5, 'B to hold bulk:5')
    // Log every command from here on, on every master.
    const previous = await Promise.all(masters.map(async (m) => (await m.config('GET', 'slowlog-*')) as string[]))
    cleanups.push(() => Promise.all(masters.map((m, i) => {
      const [k1, v1, k2, v2] = previous[i]!
      return m.config('SET', k1!, v1!, k2!, v2!)
    })))
    await Promise.all(masters.map(async (m) => {
      await m.config('SET', 'slowlog-log-slower-than', '0', 'slowlog-max-len', '1000000')
      await m.slowlog('RESET')
    }))
    const result = await a!.invalidatePrefix('bulk:')
    expect(result).toEqual({ deleted: 100_000, complete: true })
    // What the removal sent: SCAN and UNLINK only, none over one batch.
    let commands = 0
    let slowest = 0
    const names = new Set<string>()
    for (const m of masters) {
      const log = (await m.slowlog('GET', '-1')) as [number, number, number, (string | Buffer)[]][]
      for (const [, , micros, args] of log) {
        const text = args.map(String)
        if (!text.some((arg) => arg.includes(namespace))) continue
        const name = text[0]!.toUpperCase()
        if (name !== 'SCAN' && name !== 'UNLINK') continue
        names.add(name)
        commands++
        slowest = Math.max(slowest, micros)
        // SLOWLOG keeps 32 arguments and says how many more there were.
        const more = /^\.\.\. \((\d+) more arguments\)$/.exec(text.at(-1)!)
        const count = more === null ? text.length : text.length - 1 + Number(more[1])
        if (name === 'UNLINK') expect(count - 1).toBeLessThanOrEqual(PREFIX_BATCH)
        else expect(text).toContain(String(PREFIX_BATCH))
      }
      const ours = log.filter(([, , , args]) => args.map(String).some((arg) => arg.includes(namespace))).map(([, , , args]) => String(args[0]).toUpperCase())
      expect(ours).not.toContain('KEYS')
    }
    expect([...names].sort()).toEqual(['SCAN', 'UNLINK'])
    // Nothing matching is left on any master.
    for (const m of masters) {
      let cursor = '0'
      do {
        const [next, found] = await m.scan(cursor, 'MATCH', `tc1:${namespace}:*{bulk:*`, 'COUNT', 1000)
        expect(found).toEqual([])
        cursor = next
      } while (cursor !== '0')
    }
    await until(() => b!.peek('bulk:5') === undefined, 'B to drop bulk:5')
    expect(await cold(a!, { cluster: seeds, timeout: '2s' }).getMany(['keep:0', 'keep:99', 'bulk:0'])).toEqual([0, 99, undefined])
    console.log(`[invalidatePrefix on a 3-master Cluster] 100,000 keys removed with ${commands} SCAN/UNLINK commands; slowest ${slowest} µs`)
  }, 180_000)
})
