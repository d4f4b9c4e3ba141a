/**
 * The CDN purge runner against real Redis (the invalidation bus) and local provider APIs: batching
 * by the provider's limit, a cursor that survives a restart, retries then dead letters (never a
 * silent drop), purges a CDN cannot express, and gaps.
 */
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { FastlyPurger } from '../../src/cdn/adapters/fastly.js'
import { NginxPurger } from '../../src/cdn/adapters/nginx.js'
import type { FollowerEvent, RetryPolicy } from '../../src/cdn/follower.js'
import { parseMapping } from '../../src/cdn/mapping.js'
import type { CdnPurger } from '../../src/cdn/purger.js'
import { CdnPurgeRunner } from '../../src/cdn/runner.js'
import { RedisKeys } from '../../src/redis/keys.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import type { FakeApi } from '../helpers/cdn-apis.js'
import { fakeFastly } from '../helpers/cdn-apis.js'
import { freePort } from '../helpers/daemon.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'
import { collectMetrics } from '../../src/metrics/index.js'
import { parseScrape } from '../helpers/prometheus-text.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

const FASTLY = { serviceId: 'svc1', host: 'www.example.test' }
const QUICK_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 }

async function fastly(): Promise<{ api: FakeApi; purger: (token?: string) => FastlyPurger }> {
  const api = await fakeFastly({ ...FASTLY, token: 'tok' })
  cleanups.push(() => api.close())
  return { api, purger: (token = 'tok') => new FastlyPurger({ ...FASTLY, apiToken: token, apiUrl: api.url, timeoutMs: 2_000 }) }
}

function publisher(namespace: string): RedisStreamBus {
  const bus = new RedisStreamBus({ redis: inject('redisUrl'), namespace })
  cleanups.push(() => bus.close())
  return bus
}

function runner(namespace: string, purgers: CdnPurger[], extra: { retry?: RetryPolicy; mapping?: unknown } = {}): { runner: CdnPurgeRunner; events: FollowerEvent[] } {
  const events: FollowerEvent[] = []
  const r = new CdnPurgeRunner({
    redis: inject('redisUrl'), namespace, purgers, blockMs: 200, retry: extra.retry ?? QUICK_RETRY,
    mapping: parseMapping(extra.mapping), onEvent: (e) => { events.push(e) },
  })
  cleanups.push(() => r.close())
  r.start()
  return { runner: r, events }
}

const sent = (api: FakeApi, path: string): string[][] => api.requests.filter((r) => r.path === path)
  .map((r) => String(r.headers['surrogate-key'] ?? '').split(' '))

describe('cdn-purger runner', () => {
  it('turns bus messages into surrogate-key purges, split by the provider\'s batch limit', async () => {
    const ns = freshNamespace('cdn')
    const { api, purger } = await fastly()
    const { runner: r } = runner(ns, [purger()])
    await r.ready()
    const tags = Array.from({ length: 300 }, (_, i) => `product:${i}`)
    await publisher(ns).publish({ tags, origin: 'test', at: Date.now() })
    await until(() => r.stats().purged === 2, 'two batch purges', 30_000)
    const batches = sent(api, '/service/svc1/purge')
    expect(batches.map((b) => b.length)).toEqual([256, 44])
    expect(batches.flat()).toEqual(tags)
    expect(api.violations).toEqual([])
  })

  it('resumes from the cursor it keeps in Redis: what was published while it was down is purged after a restart, once', async () => {
    const ns = freshNamespace('cdn')
    const { api, purger } = await fastly()
    const bus = publisher(ns)
    const first = runner(ns, [purger()])
    await first.runner.ready()
    await bus.publish({ tags: ['before'], origin: 'test', at: Date.now() })
    await until(() => first.runner.stats().purged === 1, 'the first purge', 30_000)
    await first.runner.close()
    await bus.publish({ tags: ['while-down-1'], origin: 'test', at: Date.now() })
    await bus.publish({ tags: ['while-down-2'], soft: true, origin: 'test', at: Date.now() })
    const second = runner(ns, [purger()])
    await until(() => second.runner.stats().purged >= 2, 'the purges published while it was down', 30_000)
    const requests = api.requests.map((q) => [q.headers['surrogate-key'], q.headers['fastly-soft-purge'] ?? 'hard'])
    expect(requests).toEqual([['before', 'hard'], ['while-down-1', 'hard'], ['while-down-2', '1']])
    expect(second.events.some((e) => e.type === 'gap')).toBe(false)
  })

  it('retries a failing provider with back-off, then dead-letters the purge where it can be read and counted', async () => {
    const ns = freshNamespace('cdn')
    const { api, purger } = await fastly()
    const { runner: r } = runner(ns, [purger()])
    await r.ready()
    api.failNext(1, 503)
    await publisher(ns).publish({ tags: ['recovers'], origin: 'test', at: Date.now() })
    await until(() => r.stats().purged === 1, 'the purge after one retry', 30_000)
    expect(r.stats().retries).toBe(1)
    expect(r.stats().deadLettered).toBe(0)

    api.failNext(QUICK_RETRY.attempts, 503)
    await publisher(ns).publish({ tags: ['never'], origin: 'test', at: Date.now() })
    await until(() => r.stats().deadLettered === 1, 'the dead letter', 30_000)
    const letters = await r.deadLetters()
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({ purger: 'fastly', kind: 'tags', items: ['never'], attempts: QUICK_RETRY.attempts, soft: false })
    expect(letters[0]!.reason).toMatch(/503/)
    expect(await r.deadLetterCounts()).toEqual({ fastly: 1 })
    // The same figures through tiercache/metrics, as Prometheus scrapes them.
    const registry = new Registry()
    collectMetrics(r, { registry })
    const scrape = parseScrape(await registry.metrics())
    const labels = { provider: 'fastly', purger: 'fastly' }
    expect(scrape.value('tiercache_cdn_purges_total', { ...labels, result: 'ok' })).toBe(1)
    expect(scrape.value('tiercache_cdn_purges_total', { ...labels, result: 'retried' })).toBe(1 + QUICK_RETRY.attempts - 1)
    expect(scrape.value('tiercache_cdn_purges_total', { ...labels, result: 'dead_letter' })).toBe(1)
    expect(scrape.value('tiercache_cdn_dead_letters', labels)).toBe(1)
    expect(scrape.type('tiercache_cdn_dead_letters')).toBe('GAUGE')
    // The runner moved on: the next purge goes through.
    await publisher(ns).publish({ tags: ['after'], origin: 'test', at: Date.now() })
    await until(() => r.stats().purged === 2, 'the next purge', 30_000)
  })

  it('stopped while retrying, it neither dead-letters nor moves its cursor: the next run sends the purge again', async () => {
    const ns = freshNamespace('cdn')
    const { api, purger } = await fastly()
    const first = runner(ns, [purger()], { retry: { attempts: 10, baseDelayMs: 200, maxDelayMs: 200 } })
    await first.runner.ready()
    api.failNext(1_000, 503)
    await publisher(ns).publish({ tags: ['interrupted'], origin: 'test', at: Date.now() })
    await until(() => api.requests.length >= 1, 'the first failed try', 30_000)
    await first.runner.close()
    expect(first.runner.stats().deadLettered).toBe(0)
    api.failNext(0, 503)
    const second = runner(ns, [purger()])
    await until(() => second.runner.stats().purged === 1, 'the purge sent again', 30_000)
    expect(api.requests.at(-1)!.headers['surrogate-key']).toBe('interrupted')
    expect(await second.runner.deadLetters()).toEqual([])
  })

  it('dead-letters at once what retrying cannot fix (refused credentials)', async () => {
    const ns = freshNamespace('cdn')
    const { api, purger } = await fastly()
    const { runner: r } = runner(ns, [purger('wrong')])
    await r.ready()
    await publisher(ns).publish({ tags: ['product:1'], origin: 'test', at: Date.now() })
    await until(() => r.stats().deadLettered === 1, 'the dead letter', 30_000)
    expect(api.requests).toHaveLength(1)
    expect((await r.deadLetters())[0]).toMatchObject({ attempts: QUICK_RETRY.attempts, items: ['product:1'] })
    expect((await r.deadLetters())[0]!.reason).toMatch(/401/)
  })

  it('maps tags and keys to URLs for a CDN without tags, and dead-letters a tag it cannot map', async () => {
    const ns = freshNamespace('cdn')
    const port = await freePort()
    const seen: string[] = []
    const { createServer } = await import('node:http')
    const server = createServer((req, res) => {
      seen.push(`${req.headers.host}${req.url}`)
      res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => { resolve() })))
    const { runner: r } = runner(ns, [new NginxPurger({ purgeUrl: `http://127.0.0.1:${port}`, host: 'shop.test' })], {
      mapping: {
        tags: [{ match: 'product:{id}', urls: ['/api/products/{id}', '/products/{id}'] }],
        keys: [{ match: 'category:{slug}', urls: ['/api/categories/{slug}'] }],
      },
    })
    await r.ready()
    await publisher(ns).publish({ tags: ['product:42', 'products'], keys: ['category:a b', 'session:1'], origin: 'test', at: Date.now() })
    await until(() => r.stats().purged === 3 && r.stats().deadLettered === 1, 'three URL purges and one dead letter', 30_000)
    expect(seen.sort()).toEqual(['shop.test/api/categories/a%20b', 'shop.test/api/products/42', 'shop.test/products/42'])
    const [letter] = await r.deadLetters()
    expect(letter).toMatchObject({ kind: 'tags', items: ['products'] })
    expect(letter!.reason).toMatch(/no tags and no mapping\.tags rule/)
    expect(r.stats().purgers[0]!.ignored).toBe(1)
  })

  it('after a gap (the stream trimmed past its cursor) purges everything where the CDN can, and dead-letters it loudly where it cannot', async () => {
    const ns = freshNamespace('cdn')
    const { api, purger } = await fastly()
    const bus = publisher(ns)
    const nginxOnDeadPort = new NginxPurger({ purgeUrl: `http://127.0.0.1:${await freePort()}`, host: 'shop.test' })
    const first = runner(ns, [purger(), nginxOnDeadPort])
    await first.runner.ready()
    await first.runner.close()
    for (let i = 0; i < 5; i++) await bus.publish({ tags: [`lost:${i}`], origin: 'test', at: Date.now() })
    const admin = new Redis(inject('redisUrl'))
    cleanups.push(() => admin.quit())
    await admin.xtrim(new RedisKeys(ns).bus, 'MAXLEN', 0)
    const second = runner(ns, [purger(), new NginxPurger({ purgeUrl: 'http://127.0.0.1:1', host: 'shop.test' })])
    await until(() => second.runner.stats().purged === 1 && second.runner.stats().deadLettered === 1, 'a full purge on Fastly and a dead letter for nginx', 30_000)
    expect(api.requests.map((q) => q.path)).toEqual(['/service/svc1/purge_all'])
    expect(second.events.filter((e) => e.type === 'gap')).toHaveLength(2)
    const [letter] = await second.runner.deadLetters()
    expect(letter).toMatchObject({ purger: 'nginx', kind: 'all' })
    expect(letter!.reason).toMatch(/cannot purge everything/)
  })
})
