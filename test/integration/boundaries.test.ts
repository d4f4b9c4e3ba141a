/**
 * The core at its boundaries, on real Redis, used the way a new user uses it: caches created and
 * used at once (no warm-up call), Redis refused, hung, or up and then gone, shutdown with work in
 * flight. Each test here failed before the fix it covers.
 *
 * No timing thresholds: where a bug would make a call wait, the test sets the budget that call
 * would wait for to an hour, so the bug shows as a test that never finishes, not as a slow one.
 */
import { spawn } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { CacheOptions, L2Options } from '../../src/compose/options.js'
import type { TierCache } from '../../src/core/cache.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'
import { freePort, startRedisServer } from '../services/services.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface Line { level: 'warn' | 'error'; context: Record<string, unknown>; message: string }

/** A logger that keeps every line, pino-style `(context, message)`. */
function recorder(): { logger: { warn(c: Record<string, unknown>, m: string): void; error(c: Record<string, unknown>, m: string): void }; lines: Line[] } {
  const lines: Line[] = []
  return {
    lines,
    logger: {
      warn: (context, message) => { lines.push({ level: 'warn', context, message }) },
      error: (context, message) => { lines.push({ level: 'error', context, message }) },
    },
  }
}

function cache(options: CacheOptions): TierCache {
  const c = createCache({ logger: false, ...options })
  cleanups.push(() => c.close())
  return c
}

/** Resolves when a cache of `namespace` in this process applied a bus message naming `key`. */
function heard(namespace: string, key: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      const message = m as { namespace: string; keys?: readonly string[] }
      if (message.namespace === namespace && message.keys?.includes(key) === true) {
        diagnostics.unsubscribe('tiercache:invalidated', onMessage)
        resolve()
      }
    }
    diagnostics.subscribe('tiercache:invalidated', onMessage)
  })
}

/**
 * L2 options for the start-up tests. Their marker proves "b heard everything" only if b's bus was
 * following the stream before a published. The fix makes first calls wait for that, within the
 * start budget; a handshake that misses `l2.timeout` (100 ms by default: a loaded test machine
 * misses it now and then) counts as Redis down, the calls go on with L1 fenced, and the marker,
 * published before b's bus starts at the stream's end, never reaches b, and the test runs into its
 * timeout (L1 was fenced, so that is the documented degraded start, not the bug). Budgets no real
 * answer misses keep the test about ordering. Code without the start gate still fails it the same
 * way (checked by turning the gate off): nothing there waits for the bus.
 */
function startBudgets(): L2Options {
  return { redis: inject('redisUrl'), timeout: '5s', connectTimeout: '1h' }
}

describe('start-up: a cache is correct from its first call', () => {
  it('an invalidation made right after start-up reaches a node that filled at once', async () => {
    // Several rounds: the race is between one node's fill and the other's bus positioning its cursor.
    for (let round = 0; round < 5; round++) {
      const namespace = freshNamespace('start')
      const redis = startBudgets()
      const a = cache({ namespace, l2: redis, ttl: '10m' })
      const b = cache({ namespace, l2: redis, ttl: '10m' })
      expect(await b.getOrSet('p:1', () => 'v1', { tags: ['p:1'] })).toBe('v1')
      await a.invalidateTags(['p:1'])
      // A marker after the invalidation: once b has applied it, b has seen everything before it.
      const marker = heard(namespace, 'marker')
      await a.delete('marker')
      await marker
      expect(b.peek('p:1')).toBeUndefined()
      expect(await b.getOrSet('p:1', () => 'v2', { tags: ['p:1'] })).toBe('v2')
    }
  })

  it('a write on one node right after start-up is not overwritten by another node\'s L1', async () => {
    const namespace = freshNamespace('start')
    const redis = startBudgets()
    const a = cache({ namespace, l2: redis, ttl: '10m' })
    const b = cache({ namespace, l2: redis, ttl: '10m' })
    const [first] = await Promise.all([b.getOrSet('k', () => 'old'), a.set('k', 'new')])
    expect(['old', 'new']).toContain(first)
    const marker = heard(namespace, 'marker')
    await a.delete('marker')
    await marker
    expect(await b.get('k')).toBe('new')
  })

  it('ready() resolves once Redis and the bus are up; calls made before it need not wait for it', async () => {
    const c = cache({ namespace: freshNamespace(), l2: { redis: inject('redisUrl') } })
    await c.ready()
    expect(c.stats().coherence).toMatchObject({ fenced: false, bus: 'redis-stream' })
  })
})

describe('Redis refused, hung, or gone: the first call and every call after it answer', () => {
  it('refused: answers from the loader without waiting for the start budget, and the log names the cause', async () => {
    const { logger, lines } = recorder()
    const port = await freePort()
    // An hour of start budget: a cache that waited for it instead of noticing the refusal would hang here.
    const c = cache({ namespace: freshNamespace(), logger, l2: { redis: `redis://127.0.0.1:${port}`, connectTimeout: '1h', timeout: 100 } })
    expect(await c.getOrSet('first', () => 'from-loader')).toBe('from-loader')
    for (let i = 0; i < 300; i++) expect(await c.getOrSet(`k${i % 30}`, () => i % 30)).toBe(i % 30)
    await c.ready()
    const s = c.stats().l2!
    expect(s.breaker).toBe('open')
    expect(s.timeouts).toBe(0) // a refused connection never costs a budget
    const open = lines.filter((l) => /L2 unavailable/.test(l.message))
    expect(open).toHaveLength(1)
    expect(String(open[0]?.context.error)).toMatch(/ECONNREFUSED/)
  })

  it('hung (accepts, never answers): the first call costs one budget, the rest none', async () => {
    const sockets = new Set<Socket>()
    const server: Server = createServer((socket) => { sockets.add(socket) })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()) }))
    const port = (server.address() as { port: number }).port
    const { logger, lines } = recorder()
    const c = cache({ namespace: freshNamespace(), logger, l2: { redis: `redis://127.0.0.1:${port}`, connectTimeout: '1h', timeout: 100 } })
    expect(await c.getOrSet('first', () => 'from-loader')).toBe('from-loader')
    for (let i = 0; i < 300; i++) expect(await c.getOrSet(`k${i % 30}`, () => i % 30)).toBe(i % 30)
    const s = c.stats().l2!
    expect(s.breaker).toBe('open')
    expect(s.timeouts).toBe(0) // not one timeout per call: the unanswered handshake marked the connection down
    const open = lines.find((l) => /L2 unavailable/.test(l.message))
    expect(String(open?.context.error)).toMatch(/did not answer/)
  })

  it('up, then gone: calls keep answering, the log names the cause, and L2 is used again when it is back', async () => {
    const server = await startRedisServer()
    let current = server
    cleanups.push(() => current.stop())
    const { logger, lines } = recorder()
    const namespace = freshNamespace()
    const c = cache({ namespace, logger, l2: { redis: server.url, timeout: '2s', breakerThreshold: 2, breakerCooldown: 200 } })
    await c.set('before', 'v0')
    await server.stop()
    for (let i = 0; i < 50; i++) expect(await c.getOrSet(`down:${i}`, () => i)).toBe(i)
    expect(c.stats().l2!.breaker).toBe('open')
    const open = lines.filter((l) => /L2 unavailable/.test(l.message))
    expect(open).toHaveLength(1)
    expect(String(open[0]?.context.error)).toMatch(/Redis is not connected|ECONNREFUSED|closed/)
    current = await startRedisServer({ port: server.port })
    await until(async () => {
      await c.set('probe', 'v1')
      return c.stats().l2!.breaker === 'closed'
    }, 'the breaker to close once Redis is back')
    // The writes made while Redis was down wait in the outbox as invalidations; once they are
    // through, a new write stays.
    await until(() => c.stats().coherence.pendingInvalidations === 0, 'the outbox to drain')
    await c.set('after', 'v1')
    const raw = new Redis(current.url)
    cleanups.push(() => raw.quit())
    expect(await raw.exists(`tc1:${namespace}:e:{after}`)).toBe(1)
    expect(lines.filter((l) => /^L2 available again/.test(l.message)), JSON.stringify(lines)).toHaveLength(1)
  })
})

describe('start and close are quiet', () => {
  it('a clean start, use and close log nothing', async () => {
    const { logger, lines } = recorder()
    // A budget far above any real answer time: on a loaded test machine a 100 ms budget can be
    // missed for real, and this test is about noise, not budgets.
    const l2 = { redis: inject('redisUrl'), timeout: '2s' } as const
    for (let i = 0; i < 5; i++) {
      const namespace = freshNamespace()
      const a = createCache({ namespace, logger, l2 })
      const b = createCache({ namespace, logger, l2 })
      await a.set('k', 1, { tags: ['t'] })
      expect(await b.getOrSet('k', () => 2)).toBe(1)
      await a.invalidateTags(['t'])
      await b.delete('k')
      await Promise.all([a.close(), b.close()])
    }
    expect(lines).toEqual([])
  })

  it('six processes starting at once, each using its cache at once and closing it, log nothing', async () => {
    const namespace = freshNamespace()
    const runs = Array.from({ length: 6 }, () => new Promise<string[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/quiet-worker.ts', inject('redisUrl'), namespace], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
      child.once('error', reject)
      child.once('exit', (code) => {
        if (code !== 0) reject(new Error(`worker exited with ${String(code)}`))
        else resolve((JSON.parse(out.trim().split('\n').pop() ?? '{}') as { lines: string[] }).lines)
      })
    }))
    expect((await Promise.all(runs)).flat()).toEqual([])
  })

  it('a cluster cache starts and closes without a line too', async () => {
    const { logger, lines } = recorder()
    const c = createCache({ namespace: freshNamespace(), logger, l2: { cluster: inject('clusterSeeds'), timeout: '2s' } })
    await c.set('k', 1)
    expect(await c.get('k')).toBe(1)
    await c.close()
    expect(lines).toEqual([])
  })
})

describe('shutdown with work in flight', () => {
  it('a load in flight still answers, and its lease is given back so another process need not wait', async () => {
    const namespace = freshNamespace()
    const redis = inject('redisUrl')
    const a = cache({ namespace, l2: { redis } })
    // An hour of lease: if a kept its lease after closing, b would wait for it.
    const b = cache({ namespace, l2: { redis }, lease: { ttl: '1h', wait: '1h' } })
    let release!: (v: string) => void
    const slow = new Promise<string>((r) => { release = r })
    let started!: () => void
    const loading = new Promise<void>((r) => { started = r })
    const pending = a.getOrSet('k', () => { started(); return slow })
    await loading
    await a.close()
    release('from-a')
    expect(await pending).toBe('from-a')
    expect(await b.getOrSet('k', () => 'from-b')).toBe('from-b')
  })

  it('a write in flight at close reaches Redis; calls after close are refused', async () => {
    const namespace = freshNamespace()
    const c = createCache({ namespace, logger: false, l2: { redis: inject('redisUrl') } })
    const write = c.set('k', 'v')
    const closing = c.close()
    await expect(c.get('k')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
    await write
    await closing
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    expect(await raw.exists(`tc1:${namespace}:e:{k}`)).toBe(1)
  })
})

describe('fill leases this process can no longer account for', () => {
  it('a lease taken by a read that timed out does not block this process or another', async () => {
    const server = await startRedisServer()
    cleanups.push(() => server.stop())
    const namespace = freshNamespace()
    // Leases and waits of an hour: a caller that waited for the orphaned lease would hang the test.
    const options: CacheOptions = { namespace, l1: false, l2: { redis: server.url, timeout: 50 }, lease: { ttl: '1h', wait: '1h' } }
    const a = cache(options)
    const b = cache(options)
    await Promise.all([a.ready(), b.ready()])
    const admin = new Redis(server.url)
    cleanups.push(() => admin.quit())
    // Redis stops running commands for 300 ms: a's lease read times out, then runs, taking the lease.
    await admin.call('CLIENT', 'PAUSE', '300', 'ALL')
    expect(await a.getOrSet('k', () => 'a1')).toBe('a1')
    await until(async () => (await admin.exists(`tc1:${namespace}:l:{k}`)) === 0 || (await admin.pttl(`tc1:${namespace}:l:{k}`)) > 0,
      'the paused lease read to run')
    expect(await a.getOrSet('k', () => 'a2')).toMatch(/^a[12]$/)
    expect(await b.getOrSet('k2', () => 'b')).toBe('b')
    expect(await b.getOrSet('k', () => 'b-k')).toMatch(/^(a2|b-k)$/)
  })
})

describe('fill leases whose release failed', () => {
  it('a lease whose fill and release failed on a killed connection is given back once Redis answers again', async () => {
    const server = await startRedisServer()
    cleanups.push(() => server.stop())
    const namespace = freshNamespace()
    // Leases and waits of an hour: a lease nobody gives back would hang the test.
    const options: CacheOptions = { namespace, l1: false, l2: { redis: server.url, timeout: '2s' }, lease: { ttl: '1h', wait: '1h' } }
    const a = cache(options)
    await a.ready()
    const admin = new Redis(server.url)
    cleanups.push(() => admin.quit())
    const leaseKey = `tc1:${namespace}:l:{k}`
    let release!: () => void
    const gate = new Promise<void>((r) => { release = r })
    let started!: () => void
    const loading = new Promise<void>((r) => { started = r })
    const pending = a.getOrSet('k', async () => { started(); await gate; return 'a1' })
    await loading
    expect(await admin.pttl(leaseKey)).toBeGreaterThan(0)
    // a's connection is killed and cannot come back (a password it does not know) while its load
    // finishes: the fill and the lease release both fail.
    await admin.config('SET', 'requirepass', 'not-known-to-the-cache')
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
    release()
    expect(await pending).toBe('a1')
    expect(await admin.pttl(leaseKey)).toBeGreaterThan(0)
    await admin.config('SET', 'requirepass', '')
    // Once a reconnects, the lease is given back without any further call for the key.
    await until(async () => (await admin.exists(leaseKey)) === 0, 'the orphaned lease to be released')
    const b = cache(options)
    expect(await b.getOrSet('k', () => 'b')).toBe('b')
  })
})

describe('one bad command does not turn L2 off', () => {
  it('a Redis error reply for one key never opens the breaker: other keys keep using L2', async () => {
    const namespace = freshNamespace()
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    // The entry key holds a hash: every GET of it gets a WRONGTYPE reply.
    await raw.hset(`tc1:${namespace}:e:{poisoned}`, 'f', 'v')
    const c = cache({ namespace, l1: false, l2: { redis: inject('redisUrl'), breakerThreshold: 2 } })
    for (let i = 0; i < 10; i++) expect(await c.get('poisoned')).toBeUndefined()
    await c.set('fine', 'v')
    expect(await c.get('fine')).toBe('v')
    expect(c.stats().l2).toMatchObject({ breaker: 'closed', errors: 0 })
    expect(c.stats().l2!.rejected).toBeGreaterThanOrEqual(10)
  })
})

describe('locks', () => {
  it('fence keys carry a TTL, and fences keep growing after one expired', async () => {
    const namespace = freshNamespace()
    const c = cache({ namespace, l2: { redis: inject('redisUrl') } })
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    const first = await c.lock('job', { ttl: '1s' })
    await first.release()
    const fenceKey = `tc1:${namespace}:k:{job}:fence`
    expect(await raw.pttl(fenceKey)).toBeGreaterThan(0)
    await raw.del(fenceKey) // as if it had expired
    const second = await c.lock('job', { ttl: '1s' })
    expect(second.fence).toBeGreaterThan(first.fence)
    await second.release()
  })
})
