import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import { loggedPath } from '../../src/edge/access-log.js'
import { MemoryStorage } from '../../src/edge/memory-storage.js'
import { PurgeQueue } from '../../src/edge/purge-queue.js'
import { StoredResponse } from '../../src/edge/stored-response.js'
import { TokenBucket } from '../../src/edge/token-bucket.js'

function response(url: string, tag: string, now: number): StoredResponse {
  return new StoredResponse({
    status: 200, headers: [], body: Buffer.from('x'), requestTime: now, responseTime: now, initialAge: 0, lifetime: 3_600_000,
    staleWhileRevalidate: 0, staleIfError: 0, retention: 0, flags: 0, tags: [tag], url, vary: undefined, invalidatedAt: Number.NaN,
  })
}

describe('purge rate limit (token bucket)', () => {
  it('admits the burst, then the rate, on the injected clock', async () => {
    const clock = new ManualClock(1_000_000)
    const bucket = new TokenBucket(10, 3, clock)
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false])
    expect(bucket.retryAfterSeconds()).toBe(1)
    await clock.advance(100)
    expect([bucket.take(), bucket.take()]).toEqual([true, false])
    await clock.advance(10_000)
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false])
  })
})

describe('purge batches', () => {
  it('merges the purges of one turn of the event loop into one batch per kind', async () => {
    const batches: [string[], boolean, number][] = []
    const queue = new PurgeQueue((selector, soft, count) => {
      batches.push([[...(selector.tags ?? [])], soft, count])
      return Promise.resolve(7)
    })
    const results = await Promise.all([queue.submit({ tags: ['a'] }, false), queue.submit({ tags: ['b'] }, false), queue.submit({ tags: ['c'] }, true)])
    expect(results).toEqual([7, 7, 7])
    expect(batches).toEqual([[['a', 'b'], false, 2], [['c'], true, 1]])
  })
})

describe('memory storage: large purges yield to the event loop', () => {
  it('purges 10,000 URLs by prefix in slices, letting other work run between them, and removes them all', async () => {
    const clock = new ManualClock(1_000_000)
    const storage = new MemoryStorage(256 * 1024 * 1024, clock)
    for (let i = 0; i < 10_000; i++) storage.set(`/p/${i}`, response(`/p/${i}`, `t${i}`, clock.now()))
    storage.set('/other', response('/other', 'o', clock.now()))
    let turns = 0
    let done = false
    const tick = (): void => {
      if (done) return
      turns++
      setImmediate(tick)
    }
    setImmediate(tick)
    const purged = await storage.purge({ prefixes: ['/p/'] }, false, clock.now())
    done = true
    expect(purged).toBe(10_000)
    expect(turns).toBeGreaterThan(10)
    expect(storage.get('/p/1')).toBeUndefined()
    expect(storage.get('/other')).toBeDefined()
  })

  it('applies a small purge by tag at once', () => {
    const clock = new ManualClock(1_000_000)
    const storage = new MemoryStorage(1024 * 1024, clock)
    storage.set('/a', response('/a', 'x', clock.now()))
    expect(storage.purge({ tags: ['x'] }, false, clock.now())).toBe(1)
  })
})

describe('access log path', () => {
  it('keeps query parameter names, never their values, and drops a fragment', () => {
    expect(loggedPath('/search?q=secret&token=abc&flag')).toBe('/search?q&token&flag')
    expect(loggedPath('/a')).toBe('/a')
    expect(loggedPath('/a?')).toBe('/a')
    expect(loggedPath('/a?x=1#frag')).toBe('/a?x')
  })
})
