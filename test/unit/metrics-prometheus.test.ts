import diagnostics from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { MemoryBus } from '../../src/bus/memory-bus.js'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { ManualClock } from '../../src/core/manual-clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { createEdge } from '../../src/edge/index.js'
import { collectMetrics, collectOpenTelemetryMetrics } from '../../src/metrics/index.js'
import type { MetricsCollection } from '../../src/metrics/index.js'
import { ChaosStore } from '../helpers/chaos-store.js'
import { parseScrape, promtoolCheckMetrics } from '../helpers/prometheus-text.js'

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close()
})

function track<T extends { close(): unknown }>(thing: T): T {
  open.push(thing)
  return thing
}

async function scrape(registry: Registry) {
  return parseScrape(await registry.metrics())
}

describe('collectMetrics (prom-client)', () => {
  it('counts known traffic per tier, loader results, stale reasons and L2 failures, in valid exposition format', async () => {
    const clock = new ManualClock()
    const l2 = new ChaosStore(new LruStore({ maxBytes: 1024 * 1024, clock }))
    const options = { clock, logger: silentLogger, namespace: 'shop', l2: { store: l2, timeout: 50, breakerThreshold: 3, breakerCooldown: 60_000 } }
    const cache = track(createCache(options))
    // A second process of the same service: writes into the shared L2 only (no bus between them).
    const other = track(createCache(options))
    const registry = new Registry()
    // Collected from its first call: nothing happened before, and every family is there at zero.
    track(collectMetrics(cache, { registry }))
    const empty = await scrape(registry)
    expect(empty.value('tiercache_requests_total', { namespace: 'shop', tier: 'l1', result: 'hit' })).toBe(0)
    expect(empty.value('tiercache_stale_served_total', { namespace: 'shop', reason: 'loader-error' })).toBe(0)
    expect(empty.value('tiercache_breaker_state', { namespace: 'shop', tier: 'l2', state: 'closed' })).toBe(1)

    await cache.set('a', 1)
    for (let i = 0; i < 3; i++) expect(await cache.get('a')).toBe(1)   // 3 L1 hits
    expect(await cache.get('nope')).toBeUndefined()                    // L1 miss, L2 miss
    await other.set('b', 2)
    expect(await cache.get('b')).toBe(2)                               // L1 miss, L2 hit
    expect(await cache.getOrSet('c', () => Promise.resolve(3))).toBe(3) // loader ok
    await expect(cache.getOrSet('d', () => Promise.reject(new Error('db down')))).rejects.toThrow('db down')
    await cache.set('e', 5, { ttl: '1s', grace: '1h' })
    await clock.advance(2_000)
    const stale = await cache.getOrSetEntry('e', () => Promise.reject(new Error('db down')))
    expect(stale).toMatchObject({ value: 5, stale: true })              // stale, reason loader-error

    const s = await scrape(registry)
    const stats = cache.stats()
    expect(s.value('tiercache_requests_total', { namespace: 'shop', tier: 'l1', result: 'hit' })).toBe(3)
    expect(s.value('tiercache_requests_total', { namespace: 'shop', tier: 'l2', result: 'hit' })).toBe(1)
    expect(s.value('tiercache_requests_total', { namespace: 'shop', tier: 'l1', result: 'miss' })).toBe(stats.l1!.misses)
    expect(s.value('tiercache_requests_total', { namespace: 'shop', tier: 'l2', result: 'miss' })).toBe(stats.l2!.misses)
    expect(stats.l1!.misses).toBeGreaterThanOrEqual(4)
    expect(s.value('tiercache_loader_calls_total', { namespace: 'shop' })).toBe(3)
    expect(s.value('tiercache_loader_errors_total', { namespace: 'shop' })).toBe(2)
    expect(s.histogram('tiercache_loader_duration_seconds', { namespace: 'shop', result: 'ok' }).count).toBe(1)
    expect(s.histogram('tiercache_loader_duration_seconds', { namespace: 'shop', result: 'error' }).count).toBe(2)
    expect(s.value('tiercache_stale_served_total', { namespace: 'shop', reason: 'loader-error' })).toBe(1)
    expect(s.value('tiercache_stale_served_total', { namespace: 'shop', reason: 'soft-timeout' })).toBe(0)
    expect(s.value('tiercache_l1_entries', { namespace: 'shop' })).toBe(stats.l1!.entries)
    expect(s.value('tiercache_l1_bytes', { namespace: 'shop' })).toBeGreaterThan(0)
    expect(s.value('tiercache_breaker_state', { namespace: 'shop', tier: 'l2', state: 'closed' })).toBe(1)
    expect(s.value('tiercache_breaker_state', { namespace: 'shop', tier: 'l2', state: 'open' })).toBe(0)
    expect(s.value('tiercache_l2_errors_total', { namespace: 'shop' })).toBe(0)
    expect(s.type('tiercache_requests_total')).toBe('COUNTER')
    expect(s.type('tiercache_loader_duration_seconds')).toBe('HISTOGRAM')

    // Redis fails: three failed calls open the breaker.
    l2.mode = 'fail'
    for (let i = 0; i < 3; i++) await cache.get(`down-${i}`)
    const after = await scrape(registry)
    expect(after.value('tiercache_l2_errors_total', { namespace: 'shop' })).toBe(3)
    expect(after.value('tiercache_breaker_state', { namespace: 'shop', tier: 'l2', state: 'open' })).toBe(1)
    expect(after.value('tiercache_breaker_state', { namespace: 'shop', tier: 'l2', state: 'closed' })).toBe(0)

    const check = await promtoolCheckMetrics(after.text)
    expect(check.output).toBe('')
    expect(check.ok).toBe(true)
  })

  it('labels only by bounded values: no key, tag or value appears in a scrape', async () => {
    const registry = new Registry()
    const cache = track(createCache({ logger: silentLogger, namespace: 'labels' }))
    track(collectMetrics(cache, { registry }))
    await cache.getOrSet('secret-key-123', () => Promise.resolve('v'), { tags: ['secret-tag-456'] })
    await cache.get('secret-key-123')
    const text = await registry.metrics()
    expect(text).not.toContain('secret-key-123')
    expect(text).not.toContain('secret-tag-456')
    const allowed = new Set(['namespace', 'tier', 'result', 'reason', 'state', 'op', 'le'])
    for (const [, names] of text.matchAll(/\{([^}]*)\}/g)) {
      for (const [, label] of names!.matchAll(/(\w+)="/g)) expect(allowed.has(label!), label).toBe(true)
    }
  })

  it('reports L1 memory against its bound and its evictions', async () => {
    const registry = new Registry()
    const cache = track(createCache({ logger: silentLogger, namespace: 'small', l1: { maxBytes: 4096 } }))
    track(collectMetrics(cache, { registry }))
    for (let i = 0; i < 200; i++) await cache.set(`k${i}`, 'x'.repeat(100))
    const s = await scrape(registry)
    const stats = cache.stats().l1!
    expect(stats.evictions).toBeGreaterThan(0)
    expect(s.value('tiercache_l1_evictions_total', { namespace: 'small' })).toBe(stats.evictions)
    expect(s.value('tiercache_l1_max_bytes', { namespace: 'small' })).toBe(4096)
    expect(s.value('tiercache_l1_bytes', { namespace: 'small' })).toBe(stats.bytes)
    expect(stats.bytes).toBeLessThanOrEqual(4096)
  })

  it('measures invalidations applied from the bus (lag histogram) and flushes by reason', async () => {
    const bus = new MemoryBus()
    const registry = new Registry()
    const a = track(createCache({ logger: silentLogger, namespace: 'bus', bus }))
    // Another node: its own namespace here, as the channels attribute applied invalidations by namespace.
    const b = track(createCache({ logger: silentLogger, namespace: 'bus-other-node', bus }))
    await a.ready()
    await b.ready()
    track(collectMetrics(a, { registry }))
    await a.set('x', 1)
    await b.delete('x')
    await b.invalidateTags(['t'])
    expect(await a.get('x')).toBeUndefined()
    const s = await scrape(registry)
    const lag = s.histogram('tiercache_bus_lag_seconds', { namespace: 'bus' })
    expect(lag.count).toBe(2)
    expect(lag.buckets['+Inf']).toBe(2)
    expect(s.value('tiercache_bus_connected', { namespace: 'bus' })).toBe(1)
    expect(s.value('tiercache_l1_flushes_total', { namespace: 'bus', reason: 'gap' })).toBe(0)
    expect(s.value('tiercache_bus_gaps_total', { namespace: 'bus' })).toBe(0)
  })

  it('collects several caches into one registry by namespace, refuses the same namespace twice, and unregisters on close', async () => {
    const registry = new Registry()
    const one = track(createCache({ logger: silentLogger, namespace: 'one' }))
    const two = track(createCache({ logger: silentLogger, namespace: 'two' }))
    const twin = track(createCache({ logger: silentLogger, namespace: 'one' }))
    const c1: MetricsCollection = collectMetrics(one, { registry })
    const c2 = track(collectMetrics(two, { registry }))
    expect(() => collectMetrics(twin, { registry })).toThrow(expect.objectContaining({ code: 'E_METRICS_CONFLICT' }))
    await one.set('k', 1)
    await one.get('k')
    const s = await scrape(registry)
    expect(s.value('tiercache_requests_total', { namespace: 'one', tier: 'l1', result: 'hit' })).toBe(1)
    expect(s.value('tiercache_requests_total', { namespace: 'two', tier: 'l1', result: 'hit' })).toBe(0)
    c1.close()
    const after = await scrape(registry)
    expect(after.samples('tiercache_requests_total', { namespace: 'one' })).toEqual([])
    c2.close()
    expect(registry.getSingleMetric('tiercache_requests_total')).toBeUndefined()
    // The namespace is free again once its collection is closed.
    track(collectMetrics(twin, { registry }))
  })

  it('refuses what it cannot collect, with typed errors', () => {
    const registry = new Registry()
    const cache = track(createCache({ logger: silentLogger }))
    expect(() => collectMetrics({} as TierCache, { registry })).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
    expect(() => collectMetrics(cache, { registry, regsitry: registry } as never)).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
    expect(() => collectMetrics(cache, { registry: {} as never })).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION' }))
    registry.registerMetric(new (class { name = 'tiercache_l1_bytes'; get = () => Promise.resolve({}) })() as never)
    expect(() => collectMetrics(cache, { registry })).toThrow(expect.objectContaining({ code: 'E_METRICS_CONFLICT' }))
  })

  it('leave the per-read channels without subscribers: with both exporters attached, a hit still builds no event', async () => {
    // The hit path publishes only when a channel has subscribers (read-recorder.ts): the exporters
    // read the counters at collection time and must never subscribe to the per-read channels.
    const perRead = ['tiercache:hit', 'tiercache:miss'].map((name) => diagnostics.channel(name))
    expect(perRead.map((c) => c.hasSubscribers)).toEqual([false, false])
    const cache = track(createCache({ logger: silentLogger, namespace: 'hot', bus: new MemoryBus() }))
    const edge = track(createEdge({ origin: 'http://127.0.0.1:9', logger: silentLogger }))
    const provider = new MeterProvider()
    track(collectMetrics(cache, { registry: new Registry() }))
    track(collectMetrics(edge, { registry: new Registry() }))
    track(collectOpenTelemetryMetrics(cache, { meter: provider.getMeter('hot') }))
    track(collectOpenTelemetryMetrics(edge, { meter: provider.getMeter('hot-edge') }))
    expect(perRead.map((c) => c.hasSubscribers)).toEqual([false, false])
    await cache.set('a', 1)
    expect(await cache.get('a')).toBe(1)
    expect(cache.stats().l1!.hits).toBe(1)
    await provider.shutdown()
  })
})
