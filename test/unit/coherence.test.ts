/**
 * Coherence between caches sharing a bus and a shared store, without Redis: the mechanisms
 * (invalidation fan-out, versioned tags, gap flush, disconnect fence, outbox, generation guard,
 * local locks) on a ManualClock.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import { ManualClock, flushMicrotasks } from '../../src/core/manual-clock.js'
import { LruStore } from '../../src/l1/lru-store.js'
import type { CacheEntry } from '../../src/ports/entry.js'
import { ChaosStore } from '../helpers/chaos-store.js'
import { ControlledBus } from '../helpers/controlled-bus.js'

const open: TierCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

function cluster(options: CacheOptions = {}) {
  const clock = new ManualClock()
  const bus = new ControlledBus()
  const shared = new ChaosStore(new LruStore({ maxBytes: 1 << 26, clock }))
  const node = (extra: CacheOptions = {}): TierCache => {
    const c = createCache({ clock, logger: false, bus, l2: { store: shared, timeout: 50 }, ...options, ...extra })
    open.push(c)
    return c
  }
  return { clock, bus, shared, a: node(), b: node(), node }
}

describe('invalidation fan-out', () => {
  it('delete on one node drops the key from the L1 of the others', async () => {
    const { a, b } = cluster()
    await a.set('k', 'v1')
    expect(await b.get('k')).toBe('v1')
    expect(b.peek('k')).toBe('v1')
    await a.delete('k')
    await flushMicrotasks()
    expect(b.peek('k')).toBeUndefined()
    expect(await b.get('k')).toBeUndefined()
  })

  it('set on one node replaces what the others serve', async () => {
    const { a, b } = cluster()
    await a.set('k', 'v1')
    await b.get('k')
    await a.set('k', 'v2')
    await flushMicrotasks()
    expect(b.peek('k')).toBeUndefined()
    expect(await b.get('k')).toBe('v2')
  })

  it('a node does not drop its own fresh write when its own message comes back', async () => {
    const { a } = cluster()
    await a.set('k', 'v1')
    await flushMicrotasks()
    expect(a.peek('k')).toBe('v1')
  })
})

describe('tags', () => {
  it('invalidateTags stops every node serving tagged entries as fresh, without touching other entries', async () => {
    const { a, b, node } = cluster()
    await a.set('p1', 'one', { tags: ['item:1', 'list'] })
    await a.set('p2', 'two', { tags: ['item:2', 'list'] })
    await a.set('free', 'untagged')
    expect(await b.getMany(['p1', 'p2', 'free'])).toEqual(['one', 'two', 'untagged'])
    const entriesBefore = b.stats().l1!.entries
    await a.invalidateTags(['item:1'])
    await flushMicrotasks()
    expect(b.peek('p1')).toBeUndefined()
    expect(await b.get('p1')).toBeUndefined()
    expect(await a.get('p1')).toBeUndefined()
    expect(await b.get('p2')).toBe('two')
    expect(await b.get('free')).toBe('untagged')
    // O(1): nothing was scanned or deleted, the entry is simply no longer current.
    expect(b.stats().l1!.entries).toBe(entriesBefore)
    // A node that never saw the entry reads it from L2 and refuses it too.
    const c = node({ l1: false })
    expect(await c.get('p1')).toBeUndefined()
  })

  it('an invalidated tagged entry is served only as stale, by fail-safe, and marked', async () => {
    const { a, b } = cluster({ grace: '1h' })
    await a.getOrSet('p1', () => 'old', { tags: ['item:1'] })
    await b.get('p1')
    await a.invalidateTags(['item:1'])
    await flushMicrotasks()
    const failing = (): never => { throw new Error('db down') }
    expect(await b.getOrSetEntry('p1', failing, { tags: ['item:1'] })).toEqual({ value: 'old', stale: true, source: 'l1' })
    expect(await b.getOrSetEntry('p1', () => 'new', { tags: ['item:1'] })).toMatchObject({ stale: true }) // backoff
  })

  it('a tag invalidated while a fill is loading leaves no fresh entry behind', async () => {
    const { a, b } = cluster()
    let release!: (v: string) => void
    const loading = a.getOrSet('p1', () => new Promise<string>((r) => { release = r }), { tags: ['item:1'] })
    await flushMicrotasks()
    await b.invalidateTags(['item:1'])
    await flushMicrotasks()
    release('read-before-invalidation')
    expect(await loading).toBe('read-before-invalidation')
    await flushMicrotasks()
    expect(a.peek('p1')).toBeUndefined()
    expect(await a.get('p1')).toBeUndefined()
    expect(await b.get('p1')).toBeUndefined()
  })
})

describe('missed invalidations', () => {
  it('a bus gap flushes L1', async () => {
    const { a, b, bus } = cluster()
    await a.set('k', 'v')
    await b.get('k')
    bus.gap()
    expect(b.peek('k')).toBeUndefined()
    expect(b.stats().coherence.flushes).toBe(1)
  })

  it('a short disconnect costs nothing; writes meanwhile get short freshness', async () => {
    const { a, b, bus, clock } = cluster({ ttl: '1h' })
    await a.set('k', 'v')
    await b.get('k')
    bus.disconnect()
    expect(b.stats().coherence.fenced).toBe(true)
    await b.set('during', 'x')
    await clock.advance(500)
    bus.reconnect()
    expect(b.peek('k')).toBe('v')
    expect(b.stats().coherence.flushes).toBe(0)
    await clock.advance(600)
    expect(b.peek('during')).toBeUndefined() // written fenced: at most 1 s fresh in L1
    expect(await b.get('during')).toBe('x') // L2 keeps the real ttl
  })

  it('a disconnect longer than fencedTtl flushes L1', async () => {
    const { a, b, bus, clock } = cluster({ ttl: '1h', coherence: { fencedTtl: '2s' } })
    await a.set('k', 'v')
    await b.get('k')
    bus.disconnect()
    await clock.advance(1_999)
    expect(b.peek('k')).toBe('v')
    await clock.advance(1)
    expect(b.peek('k')).toBeUndefined()
    expect(b.stats().coherence.flushes).toBe(1)
  })

  it('an invalidation the bus refused is kept and retried until it is delivered', async () => {
    const { a, b, bus, clock } = cluster()
    await a.set('k', 'v1')
    await b.get('k')
    bus.failPublish = true
    await a.delete('k')
    expect(a.stats().coherence.pendingInvalidations).toBe(1)
    expect(b.peek('k')).toBe('v1') // not told yet
    await clock.advance(1_000)
    expect(a.stats().coherence.pendingInvalidations).toBe(1)
    bus.failPublish = false
    await clock.advance(5_000)
    await flushMicrotasks()
    expect(a.stats().coherence.pendingInvalidations).toBe(0)
    expect(b.peek('k')).toBeUndefined()
  })

  it('an L2 delete that failed is retried too', async () => {
    const { a, shared, clock, node } = cluster()
    await a.set('k', 'v1')
    shared.mode = 'fail'
    await a.delete('k')
    expect(a.stats().coherence.pendingInvalidations).toBe(1)
    shared.mode = 'ok'
    await clock.advance(3_000)
    await flushMicrotasks()
    expect(a.stats().coherence.pendingInvalidations).toBe(0)
    const fresh = node({ l1: false })
    expect(await fresh.get('k')).toBeUndefined()
  })
})

describe('the fill/invalidate race inside one process', () => {
  /** A store whose reads wait for the test to release them. */
  class GatedStore extends ChaosStore {
    gate: Promise<void> | undefined
    override async get(key: string): Promise<CacheEntry | undefined> {
      const value = await super.get(key)
      if (this.gate !== undefined) await this.gate
      return value
    }
  }

  it('an L2 read that raced a delete does not refill L1 with the old value', async () => {
    const clock = new ManualClock()
    const inner = new LruStore({ maxBytes: 1 << 20, clock })
    const store = new GatedStore(inner)
    const c = createCache({ clock, logger: false, l2: { store, timeout: 10_000 } })
    open.push(c)
    await c.set('k', 'old')
    const other = createCache({ clock, logger: false, l2: { store, timeout: 10_000 } })
    open.push(other)
    let open_!: () => void
    store.gate = new Promise((r) => { open_ = r })
    const reading = other.get('k') // reads 'old' from L2, then waits at the gate
    await flushMicrotasks()
    await other.delete('k') // the delete lands while the read is in flight
    store.gate = undefined
    open_()
    expect(await reading).toBe('old') // the read began before the delete: fine to answer
    expect(other.peek('k')).toBeUndefined() // but it must not stay behind in L1
  })
})

describe('locks without Redis (in-process)', () => {
  it('one owner at a time, fencing tokens increase, only the owner releases', async () => {
    const clock = new ManualClock()
    const c = createCache({ clock, logger: false })
    open.push(c)
    const first = await c.lock('job', { ttl: '10s', wait: 0 })
    await expect(c.lock('job', { wait: 0 })).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' })
    await first.release()
    const second = await c.lock('job', { ttl: '1s', wait: 0 })
    expect(second.fence).toBeGreaterThan(first.fence)
    await expect(first.release()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    await clock.advance(1_001)
    await expect(second.extend()).rejects.toMatchObject({ code: 'E_LOCK_LOST' })
    const third = await c.lock('job', { wait: 0 })
    await third.extend('30s')
    await clock.advance(20_000)
    await third.release()
  })
})
