/**
 * The cache on real Redis: sharing through L2, getMany batching on a Cluster, and the failure
 * modes a cache meets in production (closed port, hung server, stop/restart, pause).
 */
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import { freshNamespace } from '../helpers/namespace.js'
import { freePort, startRedisServer } from '../services/services.js'
import { until } from '../helpers/until.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

/**
 * A 2 s L2 budget unless a test sets its own: a loaded test machine can miss the 100 ms default for
 * real, and a read that falls back to "not found" would fail a test about something else. What a
 * missed budget does is tested on its own, with its own short budgets.
 */
function cache(options: CacheOptions): TierCache {
  const l2 = typeof options.l2 === 'object' && options.l2.timeout === undefined ? { ...options.l2, timeout: '2s' as const } : options.l2
  const c = createCache({ logger: false, ...options, ...(l2 === undefined ? {} : { l2 }) })
  cleanups.push(() => c.close())
  return c
}


describe('sharing through Redis', () => {
  it('a value set by one process-like cache is read by another from L2', async () => {
    const namespace = freshNamespace()
    const a = cache({ namespace, l2: { redis: inject('redisUrl') } })
    const b = cache({ namespace, l2: { redis: inject('redisUrl') } })
    await a.set('user:1', { name: 'Ada' }, { ttl: '1m' })
    expect(await b.getEntry('user:1')).toEqual({ value: { name: 'Ada' }, stale: false, source: 'l2' })
    // A's set also tells every node to drop an old copy; once that message has passed, B keeps what it reads.
    await until(async () => (await b.getEntry('user:1'))?.source === 'l1', 'B to serve user:1 from L1')
    await a.delete('user:1')
    const c = cache({ namespace, l2: { redis: inject('redisUrl') } })
    expect(await c.get('user:1')).toBeUndefined()
  })

  it('clone: true hands out private copies of values read from L2 too', async () => {
    const namespace = freshNamespace()
    const a = cache({ namespace, l2: { redis: inject('redisUrl') } })
    const b = cache({ namespace, l1: { clone: true }, l2: { redis: inject('redisUrl') } })
    await a.set('doc', { n: 1 })
    const first = await b.get<{ n: number }>('doc') // from L2, then kept in b's L1
    first!.n = 99
    expect(await b.get('doc')).toEqual({ n: 1 })
    expect(b.peek('doc')).toEqual({ n: 1 })
  })

  it('namespaces isolate caches sharing one Redis', async () => {
    const a = cache({ namespace: freshNamespace(), l1: false, l2: { redis: inject('redisUrl') } })
    const b = cache({ namespace: freshNamespace(), l1: false, l2: { redis: inject('redisUrl') } })
    await a.set('k', 'a')
    await b.set('k', 'b')
    expect(await a.get('k')).toBe('a')
    expect(await b.get('k')).toBe('b')
  })

  it('stores the versioned envelope with a Redis TTL equal to staleUntil', async () => {
    const namespace = freshNamespace()
    const a = cache({ namespace, l2: { redis: inject('redisUrl') } })
    await a.set('k', 'v', { ttl: '10s', grace: '50s' })
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    const key = `tc1:${namespace}:e:{k}`
    const buf = await raw.getBuffer(key)
    expect(buf![0]).toBe(0xc7)
    expect(buf![1]).toBe(1)
    const pttl = await raw.pttl(key)
    expect(pttl).toBeGreaterThan(55_000)
    expect(pttl).toBeLessThanOrEqual(60_000)
  })

  it('treats a foreign or corrupt value in its key as a miss, counts it, and replaces it', async () => {
    const namespace = freshNamespace()
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    await raw.set(`tc1:${namespace}:e:{k}`, 'not an envelope')
    const a = cache({ namespace, l1: false, l2: { redis: inject('redisUrl') } })
    expect(await a.getOrSet('k', () => 'loaded')).toBe('loaded')
    expect(a.stats().l2!.corrupt).toBe(1)
    expect(await a.get('k')).toBe('loaded')
  })
})

describe('Redis Cluster', () => {
  it('getMany makes MGETs grouped by slot (no loop of GETs) and answers in order', async () => {
    const seeds = inject('clusterSeeds')
    const namespace = freshNamespace()
    // bus: false: this test counts GETs per node, and the bus's own reads would be counted too.
    // A 2 s budget: this test counts commands, and a loaded machine can miss 100 ms for real.
    const writer = cache({ namespace, l1: false, bus: false, l2: { cluster: seeds, timeout: '2s' } })
    const keys = Array.from({ length: 200 }, (_, i) => `item:${i}`)
    await writer.setMany(keys.map((key, i) => ({ key, value: i })))
    // Counted per node with MONITOR, keeping only this namespace's keys: the cluster is shared with
    // the other test files running at the same time, whose GETs a node-wide counter would include.
    const nodes = seeds.map((s) => new Redis(s.port, s.host))
    cleanups.push(() => Promise.all(nodes.map((n) => n.quit())))
    const monitors: Redis[] = []
    for (const n of nodes) monitors.push(await n.monitor())
    cleanups.push(() => { for (const m of monitors) m.disconnect() })
    const marker = `${namespace}:done`
    const seen = monitors.map(() => ({ gets: 0, mgets: 0, done: false }))
    monitors.forEach((m, i) => m.on('monitor', (_time: string, args: string[]) => {
      const counts = seen[i]!
      const command = args[0]?.toLowerCase()
      if (command === 'echo' && args[1] === marker) counts.done = true
      else if (args.slice(1).some((a) => a.startsWith(`tc1:${namespace}:`))) {
        if (command === 'get') counts.gets++
        if (command === 'mget') counts.mgets++
      }
    }))
    const reader = cache({ namespace, l1: false, bus: false, l2: { cluster: seeds, timeout: '2s' } })
    expect(await reader.getMany([...keys, 'absent'])).toEqual([...keys.map((_, i) => i), undefined])
    // A node's MONITOR shows its commands in order: once it shows the marker, it has shown the reads.
    await Promise.all(nodes.map((n) => n.echo(marker)))
    await until(() => seen.every((c) => c.done), 'every node showing the marker in its MONITOR')
    expect(seen.map((c) => c.gets)).toEqual(seen.map(() => 0))
    seen.forEach((c) => expect(c.mgets).toBeGreaterThan(0)) // every master answered its share
  })
})

describe('Redis failures never fail the caller', () => {
  it('Redis unreachable (closed port): answers from the loader, opens the breaker, skips L2', async () => {
    const port = await freePort()
    const c = cache({ namespace: freshNamespace(), l2: { redis: `redis://127.0.0.1:${port}`, timeout: 50, breakerThreshold: 3, breakerCooldown: '10s' } })
    for (let i = 0; i < 10; i++) expect(await c.getOrSet(`k${i}`, () => i)).toBe(i)
    expect(await c.get('k3')).toBe(3) // L1 keeps serving
    const s = c.stats()
    expect(s.l2!.breaker).toBe('open')
    expect(s.l2!.errors).toBeGreaterThanOrEqual(3)
    expect(s.l2!.skipped).toBeGreaterThan(0)
    expect(s.loader.calls).toBe(10)
  })

  it('Redis that accepts and never answers: the first call costs the budget, the next fail fast, the breaker opens', async () => {
    const sockets = new Set<Socket>()
    const server: Server = createServer((socket) => { sockets.add(socket) }) // reads, never writes
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }))
    const port = (server.address() as { port: number }).port
    const c = cache({ namespace: freshNamespace(), l2: { redis: `redis://127.0.0.1:${port}`, timeout: 50, breakerThreshold: 2, breakerCooldown: '10s' } })
    for (let i = 0; i < 6; i++) expect(await c.getOrSet(`k${i}`, () => `v${i}`)).toBe(`v${i}`)
    const s = c.stats().l2!
    // The connection's handshake went unanswered within the budget: the connection counts as down,
    // so calls fail at once (errors, not one timeout each) until the breaker opens.
    expect(s.errors).toBeGreaterThanOrEqual(2)
    expect(s.breaker).toBe('open')
    expect(s.skipped).toBeGreaterThan(0)
  })

  it('Redis stopped and restarted mid-test: L1 and the loader answer, then L2 is used again without a restart', async () => {
    const server = await startRedisServer()
    let current = server
    cleanups.push(() => current.stop())
    const namespace = freshNamespace()
    const l2 = { redis: server.url, timeout: 100, breakerThreshold: 2, breakerCooldown: 200 }
    const a = cache({ namespace, l2 })
    await a.set('before', 'v0')
    await server.stop()
    // Down: L1 still answers what it has, the loader answers the rest.
    expect(await a.get('before')).toBe('v0')
    for (let i = 0; i < 5; i++) expect(await a.getOrSet(`down:${i}`, () => i)).toBe(i)
    expect(a.stats().l2!.errors).toBeGreaterThan(0)
    current = await startRedisServer({ port: server.port })
    // Up again: the breaker probes after its cool-down and closes; writes reach Redis.
    let n = 0
    await until(async () => {
      await a.getOrSet(`probe:${n++}`, () => 'x')
      return a.stats().l2!.breaker === 'closed'
    }, 'the breaker to close after Redis came back')
    await a.set('after', 'v1')
    const b = cache({ namespace, l2: { redis: current.url } })
    expect(await b.getEntry('after')).toMatchObject({ value: 'v1', source: 'l2' })
  })

  it('Redis paused (CLIENT PAUSE): calls fall back within the budget and L2 resumes after', async () => {
    const server = await startRedisServer()
    cleanups.push(() => server.stop())
    const namespace = freshNamespace()
    const a = cache({ namespace, l2: { redis: server.url, timeout: 50, breakerThreshold: 100, breakerCooldown: 100 } })
    await a.set('warm', 1)
    const admin = new Redis(server.url)
    cleanups.push(() => admin.quit())
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL')
    expect(await a.getOrSet('during', () => 'loader')).toBe('loader')
    expect(a.stats().l2!.timeouts).toBeGreaterThanOrEqual(1)
    await until(async () => {
      await a.set('post', 'v')
      const b = createCache({ namespace, logger: false, l1: false, l2: { redis: server.url } })
      try {
        return (await b.get('post')) === 'v'
      } finally {
        await b.close()
      }
    }, 'L2 to answer after the pause')
  })
})
