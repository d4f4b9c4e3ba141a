/**
 * The core at its boundaries, without services: bad input refused the same way on every path,
 * limits that hold before any I/O, and the guard's budget held to the millisecond. Each test
 * here failed before the fix it covers.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import { MAX_PENDING_INVALIDATIONS } from '../../src/core/coherence.js'
import { ManualClock, flushMicrotasks } from '../../src/core/manual-clock.js'
import { jsonSerializer } from '../../src/core/serializer.js'
import { TierGuard } from '../../src/core/tier-guard.js'
import { systemClock } from '../../src/core/clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { ChaosStore } from '../helpers/chaos-store.js'
import { ControlledBus } from '../helpers/controlled-bus.js'

const open: TierCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

function cache(options: CacheOptions = {}): TierCache {
  const c = createCache({ logger: false, clock: new ManualClock(), ...options })
  open.push(c)
  return c
}

describe('unknown option keys are refused, naming the likely intended one', () => {
  const cases: [string, unknown, string, string | undefined][] = [
    ['a top-level typo', { ttlMs: 5000 }, 'ttlMs', 'ttl'],
    ['an l1 typo', { l1: { maxBytez: 1000 } }, 'l1.maxBytez', 'l1.maxBytes'],
    ['an l1 option from another library', { l1: { maxSize: 1000 } }, 'l1.maxSize', undefined],
    ['an l2 typo', { l2: { store: new LruStore({ maxBytes: 1000, clock: systemClock }), timout: 50 } }, 'l2.timout', 'l2.timeout'],
    ['a coherence typo', { coherence: { fenceTtl: '1s' } }, 'coherence.fenceTtl', 'coherence.fencedTtl'],
    ['a lease typo', { lease: { waitMs: 10 } }, 'lease.waitMs', 'lease.wait'],
    ['an ioredis option typo', { l2: { redis: { hots: 'redis.internal', port: 6380 } } }, 'l2.redis.hots', 'l2.redis.host'],
    ['something unrelated', { colour: 'blue' }, 'colour', undefined],
  ]
  for (const [name, options, option, suggestion] of cases) {
    it(`refuses ${name}`, () => {
      let caught: unknown
      try {
        createCache(options as CacheOptions)
      } catch (error) {
        caught = error
      }
      expect(caught).toMatchObject({ code: 'E_INVALID_OPTION', context: { option } })
      if (suggestion !== undefined) expect((caught as Error).message).toContain(`did you mean ${suggestion}?`)
      expect((caught as Error).message).toMatch(/known options here: /)
    })
  }

  it('refuses a typo in per-call options, on a hit and on a miss alike', async () => {
    const c = cache()
    await expect(c.set('k', 1, { ttll: '5m' } as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'ttll' } })
    await expect(c.getOrSet('miss', () => 1, { tag: ['x'] } as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'tag' } })
    await c.set('hit', 1)
    await expect(c.getOrSet('hit', () => 1, { tag: ['x'] } as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'tag' } })
    await expect(c.invalidate({ key: ['hit'] } as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'key' } })
    expect(await c.get('hit')).toBe(1) // nothing was invalidated by the refused call
  })

  it('refuses a typo in lock options instead of taking the lock with the defaults', async () => {
    const c = cache()
    await expect(c.lock('job', { tll: '1s' } as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'tll' } })
    await expect(c.lock('job', 'wait' as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    // Nothing was taken by the refused calls: the lock is free at once.
    const handle = await c.lock('job', { wait: 0 })
    await handle.release()
  })
})

describe('getOrSet checks its options on every path', () => {
  it('rejects a bad refreshAhead on an L1 hit, and never throws synchronously', async () => {
    const c = cache()
    await c.set('k', 'v')
    let promise: Promise<unknown> | undefined
    expect(() => { promise = c.getOrSet('k', () => 'x', { refreshAhead: 'x' as never }) }).not.toThrow()
    await expect(promise).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'refreshAhead' } })
    await expect(c.getOrSet('miss', () => 'x', { refreshAhead: 'x' as never })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    await expect(c.getOrSet('k', 'not a loader' as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'loader' } })
  })
})

describe('durations are held to what the tiers can take, before any I/O', () => {
  it('refuses an absurd ttl or grace without sending anything to L2', async () => {
    const inner = new LruStore({ maxBytes: 1 << 20, clock: systemClock })
    const l2 = new ChaosStore(inner)
    const c = cache({ l2: { store: l2 } })
    for (const ttl of [1e300, Number.MAX_SAFE_INTEGER, '100000000d']) {
      await expect(c.set('k', 1, { ttl: ttl as never })).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'ttl' } })
      await expect(c.getOrSet('k', () => 1, { grace: ttl as never })).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'grace' } })
    }
    expect(() => createCache({ ttl: 1e300 })).toThrow(/expected ttl to be a duration of at most 10 years/)
    expect(l2.calls).toBe(0)
    expect(c.stats().l2?.breaker).toBe('closed')
  })

  it('refuses a timer longer than Node can arm (it would fire after 1 ms)', async () => {
    expect(() => createCache({ timeout: 1e10 })).toThrow(/expected timeout to be a duration of at most 24 days/)
    expect(() => createCache({ l2: { store: new LruStore({ maxBytes: 1000, clock: systemClock }), breakerCooldown: '30d' } })).toThrow(/l2.breakerCooldown/)
    const c = cache()
    await expect(c.getOrSet('k', () => 1, { timeout: '30d' })).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'timeout' } })
    await expect(c.lock('l', { ttl: '30d' })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
  })
})

describe('keys and tags that Redis would conflate are refused', () => {
  it('refuses lone UTF-16 surrogates in keys and tags, on every path', async () => {
    const c = cache()
    for (const key of ['k\uD800', 'k\uDC00', '\uDBFFk']) {
      await expect(c.set(key, 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(c.get(key)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(c.getOrSet(key, () => 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(c.delete(key)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
      await expect(c.getMany(['ok', key])).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    }
    await expect(c.set('k', 1, { tags: ['t\uD800'] })).rejects.toMatchObject({ code: 'E_INVALID_TAG' })
    await expect(c.invalidateTags(['t\uDC00'])).rejects.toMatchObject({ code: 'E_INVALID_TAG' })
    // A well-formed pair (an emoji) is a valid key.
    await c.set('k\uD83D\uDE00', 'smile')
    expect(await c.get('k\uD83D\uDE00')).toBe('smile')
  })
})

describe('values', () => {
  it('stops serializing once the value is known to pass maxValueBytes', async () => {
    // Getters count how far JSON.stringify walked: 10,000 members of 100 characters each (~1 MB),
    // against a 10 KiB limit.
    let visited = 0
    const value: Record<string, string> = {}
    for (let i = 0; i < 10_000; i++) Object.defineProperty(value, `m${i}`, { enumerable: true, get: () => { visited++; return 'x'.repeat(100) } })
    const c = cache({ maxValueBytes: 10 * 1024 })
    await expect(c.set('big', value)).rejects.toMatchObject({ code: 'E_VALUE_TOO_LARGE', context: { key: 'big' } })
    expect(visited).toBeGreaterThan(0)
    expect(visited).toBeLessThan(200)
    expect(await c.get('big')).toBeUndefined()
  })

  it('stops as early when the members are numbers or booleans', async () => {
    // 10,000 members of at least 9 bytes each (~90 KB), against a 10 KiB limit.
    let visited = 0
    const value: Record<string, number | boolean> = {}
    for (let i = 0; i < 10_000; i++) Object.defineProperty(value, `m${i}`, { enumerable: true, get: () => { visited++; return i % 2 === 0 ? 123_456 : true } })
    const c = cache({ maxValueBytes: 10 * 1024 })
    await expect(c.set('big', value)).rejects.toMatchObject({ code: 'E_VALUE_TOO_LARGE', context: { key: 'big' } })
    expect(visited).toBeGreaterThan(0)
    expect(visited).toBeLessThan(4_000) // each member is read twice; all 10,000 members would be 20,000 reads
  })

  it('never refuses a value that fits: the size bound is a lower bound of the JSON text', () => {
    const samples: unknown[] = ['str', 5, null, true, [], {}, [1, [2, [3]]], { '': 1 }, { a: 'héllo', b: [null, false, '😀'], c: { d: {} } },
      { date: new Date(0) }, ['a"b', 'tab\there', 'new\nline'], { u: undefined, n: Number.NaN },
      // JSON drops members whose value is undefined: their names do not count.
      { ['u'.repeat(100)]: undefined, o: {} }, { ['u'.repeat(100)]: undefined, n: 1, b: false }, [undefined, 2]]
    for (const sample of samples) {
      const exact = jsonSerializer.serialize(sample).bytes.length
      expect(() => jsonSerializer.serialize(sample, exact)).not.toThrow()
    }
  })
})

describe('getMany', () => {
  it('answers a dense array: undefined for each miss, no holes', async () => {
    const c = cache({ l2: { store: new ChaosStore(new LruStore({ maxBytes: 1 << 20, clock: systemClock })) } })
    await c.set('b', 2)
    const out = await c.getMany(['a', 'b', 'c'])
    expect(out).toEqual([undefined, 2, undefined])
    expect(Object.keys(out)).toEqual(['0', '1', '2'])
    const noL2 = cache()
    expect(Object.keys(await noL2.getMany(['x', 'y']))).toEqual(['0', '1'])
  })
})

describe('the guard', () => {
  it('answers a hung call within a millisecond of its budget, not a fraction of the budget later', async () => {
    const clock = new ManualClock()
    const guard = new TierGuard('L2', { timeoutMs: 100, threshold: 5, cooldownMs: 1_000, clock, logger: silentLogger })
    let settled = false
    const call = guard.run(() => new Promise<string>(() => {}), 'fallback').then((v) => { settled = true; return v })
    await clock.advance(100)
    expect(settled).toBe(false)
    await clock.advance(1)
    expect(settled).toBe(true)
    expect(await call).toBe('fallback')
    expect(guard.stats.timeouts).toBe(1)
    guard.close()
  })

  it('does not hold a refusal of one call against the breaker when told the tier answered', async () => {
    const clock = new ManualClock()
    const rejection = Object.assign(new Error('WRONGTYPE'), { name: 'ReplyError' })
    const guard = new TierGuard('L2', { timeoutMs: 100, threshold: 2, cooldownMs: 1_000, clock, logger: silentLogger,
      isRejection: (error) => (error as Error).name === 'ReplyError' })
    for (let i = 0; i < 10; i++) expect(await guard.run(() => Promise.reject(rejection), 'fb')).toBe('fb')
    expect(guard.breakerState).toBe('closed')
    expect(guard.stats).toMatchObject({ rejected: 10, errors: 0 })
    for (let i = 0; i < 2; i++) await guard.run(() => Promise.reject(new Error('ECONNRESET')), 'fb')
    expect(guard.breakerState).toBe('open')
    guard.close()
  })
})

describe('the invalidation outbox', () => {
  it('logs an overflow once per episode, with a count, and once when it drains again', async () => {
    const lines: { level: string; context: Record<string, unknown>; message: string }[] = []
    const logger = {
      warn: (context: Record<string, unknown>, message: string) => { lines.push({ level: 'warn', context, message }) },
      error: (context: Record<string, unknown>, message: string) => { lines.push({ level: 'error', context, message }) },
    }
    const clock = new ManualClock()
    const bus = new ControlledBus()
    const c = createCache({ clock, logger, bus, l1: { maxBytes: 1 << 20 } })
    open.push(c)
    bus.failPublish = true
    const overflow = 500
    for (let i = 0; i < MAX_PENDING_INVALIDATIONS + overflow; i++) await c.delete(`k${i}`)
    expect(c.stats().coherence.pendingInvalidations).toBe(MAX_PENDING_INVALIDATIONS)
    const errors = lines.filter((l) => l.level === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]?.message).toMatch(/outbox full/)
    bus.failPublish = false
    for (let i = 0; i < 20 && c.stats().coherence.pendingInvalidations > 0; i++) await clock.advance(1_000)
    expect(c.stats().coherence.pendingInvalidations).toBe(0)
    const drained = lines.filter((l) => l.level === 'warn' && /draining again/.test(l.message))
    expect(drained).toHaveLength(1)
    expect(drained[0]?.context).toMatchObject({ dropped: overflow })
  })
})

describe('the invalidation outbox at close', () => {
  it('gives the count of an overflow episode still open when the cache closes', async () => {
    const lines: { level: string; context: Record<string, unknown>; message: string }[] = []
    const logger = {
      warn: (context: Record<string, unknown>, message: string) => { lines.push({ level: 'warn', context, message }) },
      error: (context: Record<string, unknown>, message: string) => { lines.push({ level: 'error', context, message }) },
    }
    const bus = new ControlledBus()
    const c = createCache({ clock: new ManualClock(), logger, bus, l1: { maxBytes: 1 << 20 } })
    bus.failPublish = true
    const overflow = 300
    for (let i = 0; i < MAX_PENDING_INVALIDATIONS + overflow; i++) await c.delete(`k${i}`)
    await c.close()
    const closing = lines.filter((l) => /^closing with invalidations/.test(l.message))
    expect(closing).toHaveLength(1)
    expect(closing[0]?.context).toMatchObject({ pending: MAX_PENDING_INVALIDATIONS, dropped: overflow })
  })
})

describe('close', () => {
  it('lets a write in flight finish and rejects new calls at once', async () => {
    const inner = new LruStore({ maxBytes: 1 << 20, clock: systemClock })
    const l2 = new ChaosStore(inner)
    const c = createCache({ logger: false, l2: { store: l2 } })
    const write = c.set('k', 'v')
    const closing = c.close()
    await expect(c.get('k')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
    await write
    await closing
    expect(inner.peek('k')?.value).toBe('v')
  })

  it('returns even when the injected clock never moves, with a load still in flight', async () => {
    const c = createCache({ logger: false, clock: new ManualClock() })
    const pending = c.getOrSet('k', () => new Promise<string>((r) => setTimeout(() => r('late'), 20)))
    await c.close()
    // The load still answers its caller.
    expect(await pending).toBe('late')
  })
})

describe('ready()', () => {
  it('resolves at once for a cache with nothing to connect', async () => {
    const c = cache()
    await c.ready()
    await flushMicrotasks()
    expect(c.stats().coherence.fenced).toBe(false)
  })
})
