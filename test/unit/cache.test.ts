import diagnostics from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import { ManualClock, flushMicrotasks } from '../../src/core/manual-clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { ChaosStore } from '../helpers/chaos-store.js'

const open: TierCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

function setup(options: CacheOptions = {}): { cache: TierCache; clock: ManualClock; l2: ChaosStore; inner: LruStore } {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock()
  const inner = new LruStore({ maxBytes: 64 * 1024 * 1024, clock })
  const l2 = new ChaosStore(inner)
  const cache = createCache({ clock, logger: silentLogger, l2: { store: l2, timeout: 50, breakerThreshold: 3, breakerCooldown: 1000 }, ...options })
  open.push(cache)
  return { cache, clock, l2, inner }
}

/** A loader that counts calls and can be made to fail or hang. */
function counter<T>(value: (n: number) => T) {
  const state = { calls: 0, fail: false, hang: false }
  const loader = (): Promise<T> => {
    state.calls++
    if (state.hang) return new Promise<T>(() => {})
    if (state.fail) return Promise.reject(new Error('source down'))
    return Promise.resolve(value(state.calls))
  }
  return { loader, state }
}

describe('get / set / delete', () => {
  it('round-trips through L1 and L2 and honours ttl', async () => {
    const { cache, clock, inner } = setup()
    await cache.set('k', { a: 1 }, { ttl: '10s' })
    expect(await cache.get('k')).toEqual({ a: 1 })
    expect(inner.peek('k')?.value).toEqual({ a: 1 })
    await clock.advance(9_999)
    expect(await cache.get('k')).toEqual({ a: 1 })
    await clock.advance(2)
    expect(await cache.get('k')).toBeUndefined()
  })

  it('fills L1 from L2 on an L1 miss', async () => {
    const clock = new ManualClock()
    const { cache: a, l2 } = setup({ clock })
    const b = createCache({ clock, logger: silentLogger, l2: { store: l2 } })
    open.push(b)
    await a.set('shared', 'v')
    const before = l2.calls
    expect(await b.get('shared')).toBe('v')
    expect(l2.calls).toBe(before + 1)
    expect(await b.get('shared')).toBe('v')
    expect(l2.calls).toBe(before + 1) // second read served by B's L1
    expect(b.stats().l1?.hits).toBe(1)
    expect(b.stats().l2?.hits).toBe(1)
  })

  it('delete removes the key from every tier', async () => {
    const { cache, inner } = setup()
    await cache.set('k', 1)
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()
    expect(inner.peek('k')).toBeUndefined()
  })

  it('runs without L1 and without L2', async () => {
    const noL1 = createCache({ l1: false, clock: new ManualClock(), logger: false })
    open.push(noL1)
    await noL1.set('k', 1)
    expect(await noL1.get('k')).toBeUndefined() // nowhere to keep it
    const l1Only = createCache({ clock: new ManualClock() })
    open.push(l1Only)
    await l1Only.set('k', 2)
    expect(await l1Only.get('k')).toBe(2)
    expect(l1Only.stats().l2).toBeUndefined()
  })

  it('caches null (the absence of a value) but refuses undefined', async () => {
    const { cache } = setup()
    await cache.set('none', null)
    expect(await cache.getEntry('none')).toMatchObject({ value: null, source: 'l1' })
    await expect(cache.set('u', undefined)).rejects.toMatchObject({ code: 'E_VALUE_UNDEFINED', context: { key: 'u' } })
  })

  it('getMany answers in order from L1 then one L2 call for the rest', async () => {
    const clock = new ManualClock()
    const { cache: a, l2 } = setup({ clock })
    const b = createCache({ clock, logger: false, l2: { store: l2 } })
    open.push(b)
    await a.setMany([{ key: 'x', value: 1 }, { key: 'y', value: 2 }, { key: 'z', value: 3, ttl: 5 }])
    await b.set('y', 20)
    const before = l2.calls
    expect(await b.getMany(['x', 'y', 'missing'])).toEqual([1, 20, undefined])
    expect(l2.calls).toBe(before + 1)
  })
})

describe('getOrSet', () => {
  it('calls the loader once for 1000 concurrent misses of one key', async () => {
    const { cache } = setup()
    let calls = 0
    let release!: (v: string) => void
    const gate = new Promise<string>((r) => { release = r })
    const results = Array.from({ length: 1000 }, () => cache.getOrSet('hot', () => { calls++; return gate }))
    await flushMicrotasks()
    release('value')
    expect(await Promise.all(results)).toEqual(Array.from({ length: 1000 }, () => 'value'))
    expect(calls).toBe(1)
    expect(cache.stats().loader.coalesced).toBe(999)
    expect(await cache.getOrSet('hot', () => { calls++; return 'other' })).toBe('value')
    expect(calls).toBe(1)
  })

  it('rejects with the loader error when nothing stale exists, and does not cache it', async () => {
    const { cache } = setup()
    const { loader, state } = counter((n) => `v${n}`)
    state.fail = true
    await expect(cache.getOrSet('k', loader)).rejects.toThrow('source down')
    state.fail = false
    expect(await cache.getOrSet('k', loader)).toBe('v2')
  })

  it('serves a stale value within grace when the loader fails, marked stale, and backs off', async () => {
    const { cache, clock } = setup({ ttl: '1s', grace: '1h', graceBackoff: '5s' })
    const { loader, state } = counter((n) => `v${n}`)
    expect(await cache.getOrSet('k', loader)).toBe('v1')
    await clock.advance(1_500)
    state.fail = true
    expect(await cache.getOrSetEntry('k', loader)).toEqual({ value: 'v1', stale: true, source: 'l1' })
    expect(state.calls).toBe(2)
    // Within the back-off the failing source is not called again.
    expect(await cache.getOrSetEntry('k', loader)).toMatchObject({ value: 'v1', stale: true })
    expect(state.calls).toBe(2)
    await clock.advance(5_001)
    state.fail = false
    expect(await cache.getOrSetEntry('k', loader)).toEqual({ value: 'v3', stale: false, source: 'loader' })
    expect(cache.stats().staleServed).toBe(2)
  })

  it('does not serve a value past its grace', async () => {
    const { cache, clock } = setup({ ttl: '1s', grace: '2s' })
    const { loader, state } = counter((n) => `v${n}`)
    await cache.getOrSet('k', loader)
    await clock.advance(3_001)
    state.fail = true
    await expect(cache.getOrSet('k', loader)).rejects.toThrow('source down')
  })

  it('soft timeout: answers with the stale value, then the slow load lands in the background', async () => {
    const { cache, clock } = setup({ ttl: '1s', grace: '1h' })
    let release!: (v: string) => void
    await cache.getOrSet('k', () => 'v1')
    await clock.advance(1_001)
    const pending = cache.getOrSetEntry('k', () => new Promise<string>((r) => { release = r }), { softTimeout: '100ms' })
    await clock.advance(100)
    expect(await pending).toEqual({ value: 'v1', stale: true, source: 'l1' })
    // A caller arriving while the background load runs joins it: no second load.
    let second = 0
    const joined = cache.getOrSetEntry('k', () => { second++; return 'x' })
    release('v2')
    await flushMicrotasks()
    expect((await joined).value).toBe('v1')
    expect(second).toBe(0)
    expect(await cache.get('k')).toBe('v2')
  })

  it('hard timeout: rejects with E_LOADER_TIMEOUT and aborts the loader signal', async () => {
    const { cache, clock } = setup()
    let signal!: AbortSignal
    const pending = cache.getOrSet('k', (ctx) => { signal = ctx.signal; return new Promise(() => {}) }, { timeout: '2s' })
    const assertion = expect(pending).rejects.toMatchObject({ code: 'E_LOADER_TIMEOUT', context: { key: 'k', timeoutMs: 2000 } })
    await clock.advance(2_000)
    await assertion
    expect(signal.aborted).toBe(true)
    expect(cache.stats().loader.timeouts).toBe(1)
  })

  it('hard timeout with a stale value serves it instead', async () => {
    const { cache, clock } = setup({ ttl: '1s', grace: '1m' })
    await cache.getOrSet('k', () => 'old')
    await clock.advance(1_500)
    const pending = cache.getOrSetEntry('k', () => new Promise(() => {}), { timeout: '200ms' })
    await clock.advance(200)
    expect(await pending).toMatchObject({ value: 'old', stale: true })
  })

  it('a set during an in-flight load wins: the load does not overwrite it', async () => {
    const { cache } = setup()
    let release!: (v: string) => void
    const loading = cache.getOrSet('k', () => new Promise<string>((r) => { release = r }))
    await flushMicrotasks()
    await cache.set('k', 'written')
    release('loaded-before-write')
    expect(await loading).toBe('loaded-before-write')
    await flushMicrotasks()
    expect(await cache.get('k')).toBe('written')
  })

  it('a delete during an in-flight load keeps the loaded value out of every tier', async () => {
    const { cache, inner } = setup()
    let release!: (v: string) => void
    const loading = cache.getOrSet('k', () => new Promise<string>((r) => { release = r }))
    await flushMicrotasks()
    await cache.delete('k')
    release('v1')
    await loading
    await flushMicrotasks()
    expect(await cache.get('k')).toBeUndefined()
    expect(inner.peek('k')).toBeUndefined()
  })

  it('setTtl and setVersion from the loader context are honoured', async () => {
    const { cache, clock, inner } = setup()
    await cache.getOrSet('k', (ctx) => { ctx.setTtl('2s'); ctx.setVersion(17); return 'v' }, { ttl: '1h' })
    expect(inner.peek('k')?.version).toBe(17)
    await clock.advance(2_001)
    expect(await cache.get('k')).toBeUndefined()
  })

  it('refreshAhead (fraction) reloads in the background before expiry', async () => {
    const { cache, clock } = setup({ ttl: '10s' })
    const { loader, state } = counter((n) => `v${n}`)
    expect(await cache.getOrSet('k', loader, { refreshAhead: 0.8 })).toBe('v1')
    await clock.advance(7_000)
    expect(await cache.getOrSet('k', loader, { refreshAhead: 0.8 })).toBe('v1')
    expect(state.calls).toBe(1)
    await clock.advance(1_500)
    expect(await cache.getOrSet('k', loader, { refreshAhead: 0.8 })).toBe('v1') // served now, refreshed behind
    await flushMicrotasks()
    expect(state.calls).toBe(2)
    expect(await cache.get('k')).toBe('v2')
    expect(cache.stats().loader.refreshes).toBe(1)
  })

  it('refreshAhead (XFetch) refreshes a slow-to-load key early, and a fast one never early', async () => {
    const { cache, clock } = setup({ ttl: '10s' })
    let calls = 0
    const slow = (): Promise<number> => { calls++; return new Promise((r) => clock.setTimeout(() => r(calls), 5_000)) }
    const first = cache.getOrSet('slow', slow, { refreshAhead: true })
    await clock.advance(5_000)
    expect(await first).toBe(1)
    let fastCalls = 0
    await cache.getOrSet('fast', () => ++fastCalls, { refreshAhead: true })
    await clock.advance(9_900) // 100 ms of freshness left on both
    // For a 5 s load, XFetch refreshes with probability 1 - e^(-100/5000) ~ 98% per read here.
    for (let i = 0; i < 20 && calls === 1; i++) await cache.getOrSet('slow', slow, { refreshAhead: true })
    expect(calls).toBe(2)
    // A load that took 0 ms never triggers an early refresh.
    for (let i = 0; i < 200; i++) await cache.getOrSet('fast', () => ++fastCalls, { refreshAhead: true })
    expect(fastCalls).toBe(1)
  })
})

describe('a failing L2 never fails the caller', () => {
  it('falls back to the loader when L2 throws, and opens the breaker', async () => {
    const { cache, l2 } = setup()
    l2.mode = 'fail'
    for (let i = 0; i < 5; i++) expect(await cache.getOrSet(`k${i}`, () => i)).toBe(i)
    const stats = cache.stats().l2!
    expect(stats.breaker).toBe('open')
    expect(stats.errors).toBeGreaterThanOrEqual(3)
    expect(stats.skipped).toBeGreaterThan(0)
  })

  it('a hanging L2 costs one timeout budget, not a hang', async () => {
    const { cache, clock, l2 } = setup()
    l2.mode = 'hang'
    const pending = cache.getOrSet('k', () => 'from-loader')
    await flushMicrotasks()
    let settled = false
    void pending.then(() => { settled = true })
    await flushMicrotasks()
    expect(settled).toBe(false) // waiting on L2 ...
    await clock.advance(50 + 13) // ... for the budget (plus the sweep's quarter-budget slack) ...
    expect(await pending).toBe('from-loader') // ... then the loader answers
    expect(cache.stats().l2!.timeouts).toBeGreaterThanOrEqual(1)
    l2.releaseHanging()
  })

  it('uses L2 again once it recovers (half-open probe closes the breaker)', async () => {
    const { cache, clock, l2 } = setup()
    l2.mode = 'fail'
    for (let i = 0; i < 4; i++) await cache.getOrSet(`a${i}`, () => i)
    expect(cache.stats().l2!.breaker).toBe('open')
    l2.mode = 'ok'
    await clock.advance(1_000)
    await cache.set('after', 'v')
    expect(cache.stats().l2!.breaker).toBe('closed')
    const calls = l2.calls
    await cache.delete('after')
    expect(l2.calls).toBe(calls + 1)
  })

  it('logs the outage once and the recovery once, not per request', async () => {
    const lines: string[] = []
    const logger = { warn: (_: object, m: string) => lines.push(m), error: (_: object, m: string) => lines.push(m) }
    const { cache, clock, l2 } = setup({ logger })
    l2.mode = 'fail'
    for (let i = 0; i < 50; i++) await cache.getOrSet(`k${i}`, () => i)
    await clock.advance(1_000)
    for (let i = 0; i < 50; i++) await cache.getOrSet(`j${i}`, () => i) // probe fails, breaker re-opens silently
    l2.mode = 'ok'
    await clock.advance(1_000)
    await cache.getOrSet('z', () => 1)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/L2 unavailable/)
    expect(lines[1]).toMatch(/L2 available again/)
  })
})

describe('bad input: typed errors, nothing written', () => {
  const bad: [string, unknown, string][] = [
    ['bigint', { n: 10n }, 'E_VALUE_NOT_SERIALIZABLE'],
    ['function', { f: () => 1 }, 'E_VALUE_NOT_SERIALIZABLE'],
    ['symbol', { s: Symbol('x') }, 'E_VALUE_NOT_SERIALIZABLE'],
    ['map', new Map([[1, 2]]), 'E_VALUE_NOT_SERIALIZABLE'],
    ['set', { s: new Set([1]) }, 'E_VALUE_NOT_SERIALIZABLE'],
    ['undefined', undefined, 'E_VALUE_UNDEFINED'],
  ]
  for (const [name, value, code] of bad) {
    it(`refuses a ${name} value`, async () => {
      const { cache, inner, l2 } = setup()
      const before = l2.calls
      await expect(cache.set(`bad:${name}`, value)).rejects.toMatchObject({ code, context: { key: `bad:${name}` } })
      await expect(cache.getOrSet(`bad2:${name}`, () => value)).rejects.toMatchObject({ code })
      expect(inner.peek(`bad:${name}`)).toBeUndefined()
      expect(inner.peek(`bad2:${name}`)).toBeUndefined()
      expect(await cache.get(`bad:${name}`)).toBeUndefined()
      // The only L2 traffic is the loader path's read and this get; no write happened.
      expect(l2.calls - before).toBeLessThanOrEqual(3)
    })
  }

  it('refuses a cyclic value', async () => {
    const { cache } = setup()
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    await expect(cache.set('cyc', cyclic)).rejects.toMatchObject({ code: 'E_VALUE_NOT_SERIALIZABLE' })
  })

  it('refuses a value over maxValueBytes and leaves the old one in place', async () => {
    const { cache } = setup({ maxValueBytes: 1024 })
    await cache.set('k', 'small')
    await expect(cache.set('k', 'x'.repeat(2000))).rejects.toMatchObject({ code: 'E_VALUE_TOO_LARGE', context: { key: 'k', size: 2002 } })
    expect(await cache.get('k')).toBe('small')
  })

  it('refuses bad keys on every method', async () => {
    const { cache } = setup()
    for (const key of ['', 'k'.repeat(1025), 'é'.repeat(513), 42, null, undefined, {}] as unknown[]) {
      await expect(cache.get(key as string)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(cache.set(key as string, 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(cache.getOrSet(key as string, () => 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(cache.delete(key as string)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    }
    expect(await cache.get('k'.repeat(1024))).toBeUndefined() // exactly 1024 bytes is fine
  })

  it('setMany validates every item before writing any', async () => {
    const { cache, l2 } = setup()
    const before = l2.calls
    await expect(cache.setMany([{ key: 'ok', value: 1 }, { key: 'bad', value: 2n }])).rejects.toMatchObject({ code: 'E_VALUE_NOT_SERIALIZABLE', context: { key: 'bad' } })
    expect(await cache.get('ok')).toBeUndefined()
    expect(l2.calls - before).toBe(1) // the get above, no write
  })

  it('refuses bad tags', async () => {
    const { cache } = setup()
    await expect(cache.set('k', 1, { tags: [''] })).rejects.toMatchObject({ code: 'E_INVALID_TAG', context: { key: 'k' } })
    await expect(cache.set('k', 1, { tags: 'item' as unknown as string[] })).rejects.toMatchObject({ code: 'E_INVALID_TAG' })
  })
})

describe('values', () => {
  it('returns the same shape from L1 and L2 (a Date becomes its JSON string in both)', async () => {
    const clock = new ManualClock()
    const { cache: a, l2 } = setup({ clock })
    const b = createCache({ clock, logger: false, l2: { store: l2 } })
    open.push(b)
    const when = new Date(Date.UTC(2026, 0, 2))
    await a.set('row', { id: 1, at: when })
    expect(await a.get('row')).toEqual({ id: 1, at: when.toISOString() })
    expect(await b.get('row')).toEqual({ id: 1, at: when.toISOString() })
  })

  it('hands out the stored object by default and a private copy with clone: true', async () => {
    const shared = setup()
    await shared.cache.set('o', { n: 1 })
    expect(await shared.cache.get('o')).toBe(await shared.cache.get('o'))
    const cloning = setup({ l1: { clone: true } })
    await cloning.cache.set('o', { n: 1 })
    const first = await cloning.cache.get<{ n: number }>('o')
    first!.n = 99
    expect(await cloning.cache.get('o')).toEqual({ n: 1 })
  })

  it('the v8 serializer keeps Map, Set, Date and BigInt', async () => {
    const { cache } = setup({ serializer: 'v8' })
    const value = { m: new Map([['a', 1]]), s: new Set([1]), d: new Date(0), b: 10n }
    await cache.set('k', value)
    expect(await cache.get('k')).toEqual(value)
  })
})

describe('L1 bounds', () => {
  it('caps every L1 entry at l1.maxTtl whatever its ttl', async () => {
    const { cache, clock, l2 } = setup({ ttl: '1d', l1: { maxTtl: '1m' } })
    await cache.set('k', 'v')
    await clock.advance(60_001)
    const before = l2.calls
    expect(await cache.get('k')).toBe('v') // from L2, which keeps the full ttl
    expect(l2.calls).toBe(before + 1)
  })

  it('evicts to stay within l1.maxBytes', async () => {
    const { cache } = setup({ l1: { maxBytes: 20_000 } })
    for (let i = 0; i < 100; i++) await cache.set(`k${i}`, 'x'.repeat(500))
    const l1 = cache.stats().l1!
    expect(l1.bytes).toBeLessThanOrEqual(20_000)
    expect(l1.evictions).toBeGreaterThan(0)
  })
})

describe('telemetry and lifecycle', () => {
  it('publishes hits, misses and loads on diagnostics_channel', async () => {
    const { cache } = setup()
    const seen: string[] = []
    const onHit = (m: unknown): void => { seen.push(`hit:${(m as { tier: string }).tier}`) }
    const onMiss = (): void => { seen.push('miss') }
    const onLoad = (m: unknown): void => { seen.push(`load:${String((m as { ok: boolean }).ok)}`) }
    diagnostics.subscribe('tiercache:hit', onHit)
    diagnostics.subscribe('tiercache:miss', onMiss)
    diagnostics.subscribe('tiercache:load', onLoad)
    try {
      await cache.get('nothing')
      await cache.getOrSet('k', () => 1)
      await cache.get('k')
    } finally {
      diagnostics.unsubscribe('tiercache:hit', onHit)
      diagnostics.unsubscribe('tiercache:miss', onMiss)
      diagnostics.unsubscribe('tiercache:load', onLoad)
    }
    // Every read that finds nothing fresh publishes a miss: get's and getOrSet's alike.
    expect(seen).toEqual(['miss', 'miss', 'load:true', 'hit:l1'])
  })

  it('rejects calls after close with E_CACHE_CLOSED', async () => {
    const { cache } = setup()
    await cache.close()
    await expect(cache.get('k')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
    await expect(cache.getOrSet('k', () => 1)).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
  })
})
