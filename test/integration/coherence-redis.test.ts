/**
 * Coherence across caches that share real Redis (each with its own connections, as separate
 * processes would have): invalidation fan-out through the Streams bus, fill leases against the
 * stale-set race, version tombstones, write-through ordering, tags, locks.
 */
import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})


/** `n` caches of one namespace, each with its own connections, their buses connected. */
async function nodes(n: number, options: CacheOptions = {}): Promise<TierCache[]> {
  const namespace = freshNamespace()
  const caches = Array.from({ length: n }, () => createCache({ namespace, logger: false, ttl: '10m', l2: { redis: inject('redisUrl'), timeout: '2s' }, ...options }))
  for (const c of caches) cleanups.push(() => c.close())
  // Touch L2 so each cache has connected and its bus follower has synced.
  for (const c of caches) await c.get('__warm__')
  await until(() => caches.every((c) => !c.stats().coherence.fenced), 'every bus to connect')
  return caches
}

function gate<T>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void
  const promise = new Promise<T>((r) => { open = r })
  return { promise, open }
}

describe('invalidation fan-out over Redis Streams', () => {
  it('a delete on A drops the key from B\'s L1', async () => {
    const [a, b] = await nodes(2)
    await a!.set('k', 'v1')
    // A's set also tells B to drop any old copy; once that message has passed, B keeps what it reads.
    await until(async () => (await b!.get('k')) === 'v1' && b!.peek('k') === 'v1', 'B to hold v1 in L1')
    await a!.delete('k')
    await until(() => b!.peek('k') === undefined, 'B to drop k')
    expect(await b!.get('k')).toBeUndefined()
  })

  it('a set on A replaces the value every node serves', async () => {
    const [a, b, c] = await nodes(3)
    await a!.set('k', 'v1')
    await until(async () => (await b!.get('k')) === 'v1' && b!.peek('k') === 'v1' && (await c!.get('k')) === 'v1' && c!.peek('k') === 'v1', 'B and C to hold v1')
    await a!.set('k', 'v2')
    await until(() => b!.peek('k') === undefined && c!.peek('k') === undefined, 'B and C to drop k')
    expect(await b!.get('k')).toBe('v2')
    expect(await c!.get('k')).toBe('v2')
  })

  it('invalidateTags on A: no node serves the tagged entries as fresh, L2 included', async () => {
    const [a, b] = await nodes(2)
    await a!.getOrSet('p:1', () => 'one', { tags: ['item:1'] })
    await a!.getOrSet('p:2', () => 'two', { tags: ['item:2'] })
    expect(await b!.get('p:1')).toBe('one')
    await a!.invalidateTags(['item:1'])
    await until(() => b!.peek('p:1') === undefined, 'B to stop serving p:1')
    expect(await b!.get('p:1')).toBeUndefined()
    expect(await b!.get('p:2')).toBe('two')
    const [fresh] = await nodes(1)
    const cold = createCache({ namespace: a!.namespace, logger: false, l1: false, l2: { redis: inject('redisUrl'), timeout: '2s' } })
    cleanups.push(() => cold.close())
    expect(await cold.get('p:1')).toBeUndefined()
    expect(await cold.get('p:2')).toBe('two')
    expect(fresh).toBeDefined()
  })
})

describe('fill leases: the stale-set race', () => {
  it('fill reads v1, writer commits v2 and invalidates, fill writes v1: v1 is left nowhere', async () => {
    const [a, b] = await nodes(2)
    let db = 'v1'
    const read = gate<void>()
    const loaded = gate<void>()
    const filling = a!.getOrSet('k', async () => {
      const value = db // the fill reads v1 ...
      read.open()
      await loaded.promise // ... and is slow to write it back
      return value
    })
    await read.promise
    db = 'v2' // the writer commits v2 ...
    await b!.delete('k') // ... and invalidates (through another node)
    loaded.open()
    expect(await filling).toBe('v1') // the caller that asked before the write may see v1
    await until(() => a!.stats().loader.calls === 1, 'the load to finish')
    await new Promise((r) => setTimeout(r, 50))
    // v1 must not be in A's L1, in L2, or served by anyone afterwards.
    expect(a!.peek('k')).toBeUndefined()
    expect(await b!.getOrSet('k', () => db)).toBe('v2')
    expect(await a!.getOrSet('k', () => db)).toBe('v2')
  })

  it('the race with the invalidation arriving only through Redis (no local bump on the filling node)', async () => {
    const [a] = await nodes(1)
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    const read = gate<void>()
    const loaded = gate<void>()
    const filling = a!.getOrSet('k', async () => {
      read.open()
      await loaded.promise
      return 'v1'
    })
    await read.promise
    // Another writer deletes the entry and its lease directly (as another process's delete does),
    // before the bus has told A anything.
    const ns = a!.namespace
    await raw.del(`tc1:${ns}:e:{k}`, `tc1:${ns}:l:{k}`)
    loaded.open()
    await filling
    await new Promise((r) => setTimeout(r, 50))
    expect(await raw.exists(`tc1:${ns}:e:{k}`)).toBe(0) // the lease was void: the fill was refused
    expect(a!.peek('k')).toBeUndefined()
  })

  it('a source version older than the last invalidation is refused', async () => {
    const [a, b] = await nodes(2)
    await b!.invalidate({ keys: ['row:1'], version: 10 })
    const old = await a!.getOrSetEntry('row:1', (ctx) => { ctx.setVersion(9); return 'from-a-lagging-replica' })
    expect(old.value).toBe('from-a-lagging-replica')
    await new Promise((r) => setTimeout(r, 20))
    expect(a!.peek('row:1')).toBeUndefined()
    const current = await b!.getOrSetEntry('row:1', (ctx) => { ctx.setVersion(10); return 'v10' })
    expect(current).toMatchObject({ value: 'v10', source: 'loader' })
    expect(await a!.get('row:1')).toBe('v10')
  })

  it('write-through: an older version arriving last does not win', async () => {
    const [a, b] = await nodes(2)
    await a!.set('row:2', 'v3', { version: 3 })
    await b!.set('row:2', 'v2', { version: 2 }) // committed earlier, reached Redis later
    const cold = createCache({ namespace: a!.namespace, logger: false, l1: false, l2: { redis: inject('redisUrl'), timeout: '2s' } })
    cleanups.push(() => cold.close())
    expect(await cold.get('row:2')).toBe('v3')
    expect(b!.peek('row:2')).toBeUndefined()
  })
})

describe('stampede across caches', () => {
  it('one loader call for concurrent misses on several nodes; the others wait for its value', async () => {
    const caches = await nodes(4)
    let calls = 0
    const release = gate<void>()
    const loader = async (): Promise<string> => {
      calls++
      await release.promise
      return 'value'
    }
    const all = caches.flatMap((c) => Array.from({ length: 50 }, () => c.getOrSet('hot', loader)))
    await new Promise((r) => setTimeout(r, 100))
    release.open()
    expect(new Set(await Promise.all(all))).toEqual(new Set(['value']))
    expect(calls).toBe(1)
  })

  it('a lease holder that fails releases the lease: a waiter loads instead of waiting out the lease', async () => {
    const [a, b] = await nodes(2, { lease: { ttl: '30s' } })
    const started = gate<void>()
    const fail = gate<void>()
    const first = a!.getOrSet('k', async () => {
      started.open()
      await fail.promise
      throw new Error('db down for A')
    })
    await started.promise
    const second = b!.getOrSet('k', () => 'from-b')
    await new Promise((r) => setTimeout(r, 30))
    fail.open()
    await expect(first).rejects.toThrow('db down for A')
    expect(await second).toBe('from-b') // long before the 30 s lease would have expired
  })
})

describe('distributed locks on Redis', () => {
  it('one owner at a time across nodes; fencing tokens increase; only the owner releases', async () => {
    const [a, b] = await nodes(2)
    const lock = await a!.lock('nightly-job', { ttl: '5s' })
    await expect(b!.lock('nightly-job', { wait: '50ms' })).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' })
    await lock.extend('10s')
    await lock.release()
    const next = await b!.lock('nightly-job', { wait: '1s' })
    expect(next.fence).toBeGreaterThan(lock.fence)
    await expect(lock.release()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    await next.release()
  })

  it('expires on its own, so a crashed owner does not block forever', async () => {
    const [a, b] = await nodes(2)
    const crashed = await a!.lock('job', { ttl: '100ms' })
    const taken = await b!.lock('job', { wait: '2s' })
    expect(taken.fence).toBeGreaterThan(crashed.fence)
    await expect(crashed.extend()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    await taken.release()
  })
})
