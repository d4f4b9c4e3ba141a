import { afterEach, describe, expect, it, vi } from 'vitest'
import { inject } from 'vitest'
import { Redis } from 'ioredis'
import { MemoryBus } from '../../src/bus/memory-bus.js'
import { ManualClock } from '../../src/core/manual-clock.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { RedisStorage } from '../../src/edge/redis-storage.js'
import { systemClock } from '../../src/core/clock.js'
import { freshNamespace } from '../helpers/namespace.js'
import { get, startEdge, startOrigin } from './edge-helpers.js'

const TOKEN = 'purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

type Where = { redis: string } | { cluster: readonly { host: string; port: number }[] }
const standalone = (): Where => ({ redis: inject('redisUrl') })

async function sharedSetup(withBus: boolean, where: Where = standalone()) {
  const clock = new ManualClock(Date.now())
  const big = Buffer.alloc(3000, 0xfe)
  const origin = await startOrigin((req, res, _b, n) => {
    res.setHeader('cache-control', 'max-age=600')
    res.setHeader('surrogate-key', req.url === '/bin' ? 'binary' : 'page')
    res.setHeader('vary', 'Accept-Language')
    res.end(req.url === '/bin' ? big : `${req.url} #${n}`)
  }, () => clock.now())
  closers.push(() => origin.close())
  const namespace = freshNamespace('edge')
  const bus = withBus ? new MemoryBus() : undefined
  if (bus !== undefined) closers.push(() => bus.close())
  const storage = { type: 'redis' as const, ...where, namespace, timeout: 2_000 }
  const a = await startEdge({ origin: origin.url, clock, storage, purgeToken: TOKEN, id: 'redis-a', ...(bus === undefined ? {} : { bus }) })
  const b = await startEdge({ origin: origin.url, clock, storage, id: 'redis-b', ...(bus === undefined ? {} : { bus }) })
  closers.push(() => a.edge.close(), () => b.edge.close())
  return { origin, a, b, big }
}

// The same storage tests on a standalone Redis and on a 3-master Cluster: the tag and URL indexes are
// single-key commands (no cross-slot operation), and a prefix purge scans every master.
describe.each([
  ['standalone Redis', standalone],
  ['a Redis Cluster', (): Where => ({ cluster: inject('clusterSeeds') })],
] as const)('edge: shared storage on %s', (_name, where) => {
  it('lets two edge processes share one cache, bodies kept as bytes', async () => {
    const { origin, a, b, big } = await sharedSetup(false, where())
    expect((await get(`${a.url}/page`)).text).toBe('/page #1')
    expect((await get(`${b.url}/page`)).text).toBe('/page #1')
    const bin = await fetch(`${a.url}/bin`)
    expect(Buffer.from(await bin.arrayBuffer()).equals(big)).toBe(true)
    const again = await fetch(`${b.url}/bin`)
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(Buffer.from(await again.arrayBuffer()).equals(big)).toBe(true)
    expect(origin.count()).toBe(2)
  })

  it('keeps Vary variants apart in shared storage', async () => {
    const { origin, a, b } = await sharedSetup(false, where())
    await get(`${a.url}/v`, { headers: { 'accept-language': 'fr' } })
    await get(`${a.url}/v`, { headers: { 'accept-language': 'de' } })
    expect((await get(`${b.url}/v`, { headers: { 'accept-language': 'fr' } })).headers.get('x-cache')).toBe('HIT')
    expect((await get(`${b.url}/v`, { headers: { 'accept-language': 'de' } })).headers.get('x-cache')).toBe('HIT')
    expect(origin.count()).toBe(2)
  })

  it('purges shared storage by tag through the tag index, without a bus', async () => {
    const { origin, a, b } = await sharedSetup(false, where())
    await get(`${a.url}/page`)
    await get(`${a.url}/bin`)
    const purged = await get(`${a.url}/.tiercache/purge`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: ['page'] }),
    })
    expect(JSON.parse(purged.text)).toMatchObject({ entries: 1, published: false })
    await get(`${b.url}/page`)
    await get(`${b.url}/bin`)
    expect(origin.count()).toBe(3)
  })

  it('purges shared storage by URL prefix, across every node', async () => {
    const { origin, a, b } = await sharedSetup(false, where())
    const paths = Array.from({ length: 12 }, (_, i) => `/docs/${i}`)
    for (const path of [...paths, '/page']) await get(`${a.url}${path}`)
    expect(origin.count()).toBe(13)
    const purged = await get(`${a.url}/.tiercache/purge`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ prefixes: ['/docs/'] }),
    })
    // 12 responses and their 12 Vary markers (the origin varies on Accept-Language).
    expect(JSON.parse(purged.text)).toMatchObject({ entries: 24 })
    for (const path of paths) expect((await get(`${b.url}${path}`)).headers.get('x-cache')).not.toBe('HIT')
    expect((await get(`${b.url}/page`)).headers.get('x-cache')).toBe('HIT')
    expect(origin.count()).toBe(25)
  })
})

describe('edge: shared Redis storage', () => {
  it('keeps the in-process tier coherent through the bus', async () => {
    const { origin, a, b } = await sharedSetup(true)
    await get(`${a.url}/page`)
    await get(`${b.url}/page`)
    await get(`${b.url}/page`)
    expect(origin.count()).toBe(1)
    await get(`${a.url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ urls: ['/page'] }) })
    await vi.waitFor(() => expect(b.edge.stats().purges).toBe(1))
    await get(`${b.url}/page`)
    expect(origin.count()).toBe(2)
  })

  it('degrades to misses when Redis is unreachable, never to errors', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await startOrigin((_req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=600')
      res.end(`n${n}`)
    }, () => clock.now())
    closers.push(() => origin.close())
    // Redis calls are bounded on the edge's clock: move it while the request waits on the dead Redis.
    const { url, edge } = await startEdge({ origin: origin.url, clock, storage: { type: 'redis', redis: 'redis://127.0.0.1:1', timeout: 1_000 } })
    const advancing = setInterval(() => { void clock.advance(1_000) }, 5)
    closers.push(async () => clearInterval(advancing))
    closers.push(() => edge.close())
    expect((await get(`${url}/x`)).text).toBe('n1')
    expect((await get(`${url}/x`)).text).toBe('n2')
    expect(edge.stats().storage.errors).toBeGreaterThan(0)
  })

  it('does not open its breaker on error replies to single commands (Redis is up)', async () => {
    const namespace = freshNamespace('edge')
    const logged: string[] = []
    const storage = new RedisStorage({
      redis: inject('redisUrl'), namespace, clock: systemClock, timeoutMs: 2_000, breakerThreshold: 2, breakerCooldownMs: 60_000,
      logger: { warn: (_ctx, message) => { logged.push(message) }, error: (_ctx, message) => { logged.push(message) } },
    })
    closers.push(() => storage.close())
    const redis = new Redis(inject('redisUrl'))
    closers.push(async () => { redis.disconnect() })
    // A key of the wrong type where a record should be: every read of it is answered WRONGTYPE.
    await redis.lpush(storage.store.keys.entry('bad'), 'x')
    for (let i = 0; i < 5; i++) expect(await storage.get('bad')).toBeUndefined()
    expect(storage.stats().breaker).toBe('closed')
    expect(storage.stats().skipped).toBe(0)
    expect(logged).toEqual([])
  })

  it('carries purges between edges on the Redis Streams bus, and applies app-cache tag invalidations', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await startOrigin((req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=600')
      res.setHeader('surrogate-key', req.url === '/items/1' ? 'item:1' : 'other')
      res.end(`${req.url} #${n}`)
    }, () => clock.now())
    closers.push(() => origin.close())
    const namespace = freshNamespace('bus')
    const buses = [0, 1, 2].map(() => new RedisStreamBus({ redis: inject('redisUrl'), namespace }))
    closers.push(async () => { for (const bus of buses) await bus.close() })
    const a = await startEdge({ origin: origin.url, clock, bus: buses[0]!, purgeToken: TOKEN, id: 'stream-a' })
    const b = await startEdge({ origin: origin.url, clock, bus: buses[1]!, id: 'stream-b' })
    closers.push(() => a.edge.close(), () => b.edge.close())
    // The third bus speaks for an app node; it follows the stream too, so its connection is up.
    buses[2]!.subscribe({ onMessage: () => {}, onGap: () => {} })
    for (const bus of buses) await bus.ready()
    for (const u of [a.url, b.url]) {
      await get(`${u}/items/1`)
      await get(`${u}/x`)
    }
    expect(origin.count()).toBe(4)
    await get(`${a.url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ urls: ['/x'] }) })
    await vi.waitFor(() => expect(b.edge.stats().purges).toBe(1), { timeout: 10_000 })
    await get(`${b.url}/x`)
    expect(origin.count()).toBe(5)
    // An app cache publishing a tag invalidation (as cache.invalidateTags does) purges every edge.
    await buses[2]!.publish({ tags: ['item:1'], origin: 'app-node', at: Date.now() })
    await vi.waitFor(() => expect(a.edge.stats().purges + b.edge.stats().purges).toBe(4), { timeout: 10_000 })
    await get(`${a.url}/items/1`)
    await get(`${b.url}/items/1`)
    expect(origin.count()).toBe(7)
  })
})
