/**
 * Write-through on real Redis, across nodes with their own connections: a failing source write
 * leaves the cache untouched, Redis failing after the commit leaves no node with the old value,
 * racing versions end with the newer in every layer, and a concurrent invalidation or an older
 * fill in flight cannot leave anything older behind.
 */
import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { MemoryBus } from '../../src/bus/memory-bus.js'
import { createCache } from '../../src/compose/create-cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import type { TierCache } from '../../src/core/cache.js'
import { startRedisServer } from '../services/services.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

/** Caches of one namespace with their own connections; a 2 s L2 budget unless a test sets its own (a loaded machine can miss 100 ms). */
function nodes(n: number, options: CacheOptions = {}, redisUrl = inject('redisUrl')): TierCache[] {
  const namespace = freshNamespace('wt')
  const caches = Array.from({ length: n }, () => createCache({ namespace, logger: false, ttl: '10m', l2: { redis: redisUrl, timeout: '2s' }, ...options }))
  for (const c of caches) cleanups.push(() => c.close())
  return caches
}

/** A cache of the same namespace without L1: what a node that never held the key reads (L2). */
function cold(of: TierCache, redisUrl = inject('redisUrl')): TierCache {
  const c = createCache({ namespace: of.namespace, logger: false, l1: false, l2: { redis: redisUrl } })
  cleanups.push(() => c.close())
  return c
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => { open = resolve })
  return { promise, open }
}

describe('write-through', () => {
  it('the source write throws: the error reaches the caller and every tier keeps the old value', async () => {
    const [a, b] = nodes(2)
    await a!.set('row:1', 'v0', { version: 1 })
    await until(async () => (await b!.get('row:1')) === 'v0' && b!.peek('row:1') === 'v0', 'B to hold v0')
    const failure = new Error('unique violation')
    await expect(a!.writeThrough('row:1', () => { throw failure })).rejects.toBe(failure)
    expect(a!.peek('row:1')).toBe('v0')
    expect(b!.peek('row:1')).toBe('v0')
    expect(await cold(a!).get('row:1')).toBe('v0')
    // The fence was withdrawn: no fill will wait for a value that never comes.
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    expect(await raw.exists(`tc1:${a!.namespace}:l:{row:1}`)).toBe(0)
  })

  it('updates every node: this one keeps the committed value, the others drop their copy and read it from L2', async () => {
    const [a, b] = nodes(2)
    await a!.set('row:2', 'v0', { version: 1 })
    await until(async () => (await b!.get('row:2')) === 'v0' && b!.peek('row:2') === 'v0', 'B to hold v0')
    let db = 'v0'
    const value = await a!.writeThrough('row:2', (ctx) => { db = 'v1'; ctx.setVersion(2); return db })
    expect(value).toBe('v1')
    expect(a!.peek('row:2')).toBe('v1')
    await until(() => b!.peek('row:2') === undefined, 'B to drop its copy')
    expect(await b!.get('row:2')).toBe('v1')
    expect(await cold(a!).get('row:2')).toBe('v1')
  })

  for (const order of ['older lands last', 'newer lands last'] as const) {
    it(`two racing write-throughs with versions (${order}): the newer wins in every layer`, async () => {
      const [a, b, c] = nodes(3)
      await c!.set('row:3', 'v0', { version: 0 })
      const releaseA = gate()
      const releaseB = gate()
      const wa = a!.writeThrough('row:3', async (ctx) => { await releaseA.promise; ctx.setVersion(1); return 'v1' })
      const wb = b!.writeThrough('row:3', async (ctx) => { await releaseB.promise; ctx.setVersion(2); return 'v2' })
      if (order === 'older lands last') {
        releaseB.open()
        await wb
        releaseA.open()
        await wa
      } else {
        releaseA.open()
        await wa
        releaseB.open()
        await wb
      }
      expect(await cold(a!).get('row:3')).toBe('v2')
      for (const node of [a!, b!, c!]) {
        await until(async () => node.peek('row:3') !== 'v0' && node.peek('row:3') !== 'v1', 'no node to hold an older value in L1')
        expect(await node.get('row:3')).toBe('v2')
      }
    })
  }

  it('an invalidation of the key while the source write runs wins: nothing is cached, the next read loads', async () => {
    const [a, b] = nodes(2)
    await a!.set('row:4', 'v0')
    const inWrite = gate()
    const finish = gate()
    let db = 'v0'
    const writing = a!.writeThrough('row:4', async () => {
      db = 'v1'
      inWrite.open()
      await finish.promise
      return 'v1'
    })
    await inWrite.promise
    db = 'v2' // another writer commits v2 and invalidates, through another node, unversioned
    await b!.delete('row:4')
    finish.open()
    expect(await writing).toBe('v1')
    expect(a!.peek('row:4')).toBeUndefined()
    expect(await cold(a!).get('row:4')).toBeUndefined()
    expect(await a!.getOrSet('row:4', () => db)).toBe('v2')
  })

  it('a fill that read the row before the commit cannot write it back afterwards', async () => {
    const [a, b] = nodes(2)
    let db = 'v0'
    const read = gate()
    const release = gate()
    const filling = a!.getOrSet('row:5', async () => {
      const value = db
      read.open()
      await release.promise
      return value
    })
    await read.promise
    await b!.writeThrough('row:5', () => { db = 'v1'; return db })
    release.open()
    await filling
    await until(() => a!.stats().loader.calls === 1, 'the fill to finish')
    expect(await cold(a!).get('row:5')).toBe('v1')
    await until(async () => (await a!.get('row:5')) === 'v1', 'A to read v1')
  })

  it('a committed value the cache cannot hold (undefined) invalidates the key instead', async () => {
    const [a, b] = nodes(2)
    await a!.set('row:6', 'v0')
    await until(async () => (await b!.get('row:6')) === 'v0' && b!.peek('row:6') === 'v0', 'B to hold v0')
    expect(await a!.writeThrough('row:6', () => undefined)).toBeUndefined()
    expect(a!.peek('row:6')).toBeUndefined()
    await until(() => b!.peek('row:6') === undefined, 'B to drop v0')
    expect(await cold(a!).get('row:6')).toBeUndefined()
  })

  it('options are checked before the source write runs', async () => {
    const [a] = nodes(1)
    let ran = false
    await expect(a!.writeThrough('k', () => { ran = true; return 1 }, { ttll: '1m' } as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    await expect(a!.writeThrough('', () => { ran = true; return 1 })).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(ran).toBe(false)
  })

  it('Redis hangs right after the commit: the key is invalidated through the outbox, and afterwards no node serves the old value', async () => {
    const redis = await startRedisServer()
    cleanups.push(() => redis.stop())
    const [a, b] = nodes(2, { l2: { redis: redis.url, timeout: '100ms' }, coherence: { fencedTtl: '500ms' } }, redis.url)
    await a!.set('row:7', 'v0')
    await until(async () => (await b!.get('row:7')) === 'v0' && b!.peek('row:7') === 'v0' && !b!.stats().coherence.fenced, 'B to hold v0')
    let db = 'v0'
    let stopped = false
    cleanups.push(() => { if (stopped) redis.process.kill('SIGCONT') })
    const value = await a!.writeThrough('row:7', () => {
      db = 'v1'
      redis.process.kill('SIGSTOP') // committed; Redis stops answering before the cache is updated
      stopped = true
      return db
    })
    expect(value).toBe('v1')
    expect(a!.peek('row:7')).toBeUndefined()
    expect(a!.stats().coherence.pendingInvalidations).toBeGreaterThan(0)
    redis.process.kill('SIGCONT')
    stopped = false
    await until(() => a!.stats().coherence.pendingInvalidations === 0, 'the outbox to drain', 20_000)
    await until(() => !b!.stats().coherence.fenced, 'B to follow the bus again', 20_000)
    for (const node of [a!, b!, cold(a!, redis.url)]) {
      expect(await node.getOrSet('row:7', () => db)).toBe('v1')
    }
  })

  it('without L2: two caches on one in-process bus, the other node drops its copy', async () => {
    const bus = new MemoryBus()
    const a = createCache({ namespace: 'wt-mem', logger: false, bus })
    const b = createCache({ namespace: 'wt-mem', logger: false, bus })
    cleanups.push(() => a.close(), () => b.close())
    await b.set('k', 'v0')
    await a.writeThrough('k', (ctx) => { ctx.setVersion(3); return 'v1' })
    expect(a.peek('k')).toBe('v1')
    await until(() => b.peek('k') === undefined, 'B to drop v0')
  })
})
