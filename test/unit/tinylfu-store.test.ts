import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { CacheEntry } from '../../src/ports/entry.js'
import { ManualClock } from '../../src/core/manual-clock.js'
import type { EvictionReason } from '../../src/ports/store.js'
import { TinyLfuStore } from '../../src/l1/tinylfu/tinylfu-store.js'
import type { TinyLfuStoreOptions } from '../../src/l1/tinylfu/tinylfu-store.js'

function entry(clock: ManualClock, size = 1, ttl = 3_600_000): CacheEntry {
  const now = clock.now()
  return { value: size, size, createdAt: now, freshUntil: now + ttl, staleUntil: now + ttl, tags: [], loadMs: 0 }
}

/** A store counting entries (weight 1 each) unless a weigher is given. */
function store(maxBytes: number, options: Partial<TinyLfuStoreOptions> = {}): { store: TinyLfuStore; clock: ManualClock; evicted: [string, EvictionReason][] } {
  const clock = new ManualClock()
  const evicted: [string, EvictionReason][] = []
  const s = new TinyLfuStore({
    maxBytes, clock, seed: 7, weigher: (_k, e) => e.size, onEvict: (key, _e, reason) => evicted.push([key, reason]), ...options,
  })
  return { store: s, clock, evicted }
}

/** Reads a key as the cache does: a get, and a set on a miss. */
function access(s: TinyLfuStore, clock: ManualClock, key: string, size = 1): boolean {
  if (s.get(key) !== undefined) return true
  s.set(key, entry(clock, size))
  return false
}

describe('TinyLfuStore: options', () => {
  it('rejects bad options at construction, naming them', () => {
    const clock = new ManualClock()
    expect(() => new TinyLfuStore({ maxBytes: 0, clock })).toThrow(/expected maxBytes to be a positive integer, got .*0/)
    expect(() => new TinyLfuStore({ maxBytes: 1.5, clock })).toThrow(/maxBytes/)
    expect(() => new TinyLfuStore({ maxBytes: 10, clock, initialWindow: 2 })).toThrow(/initialWindow/)
    expect(() => new TinyLfuStore({ maxBytes: 10, clock, seed: 0.5 })).toThrow(/seed/)
    expect(new TinyLfuStore({ maxBytes: 10, clock, initialWindow: 0 }).policy().windowMaxBytes).toBe(0)
  })
})

describe('TinyLfuStore: admission', () => {
  it('keeps popular entries against a stream of one-hit wonders (where LRU keeps none)', () => {
    const { store: s, clock } = store(100, { adaptive: false })
    for (let round = 0; round < 5; round++) for (let i = 0; i < 90; i++) access(s, clock, `hot:${i}`)
    // Every other request is a never-seen key: 179 distinct keys between two reads of a hot key,
    // so an LRU of 100 would miss every one of them.
    let hotHits = 0
    for (let i = 0; i < 9_000; i++) {
      if (access(s, clock, `hot:${i % 90}`)) hotHits++
      access(s, clock, `scan:${i}`)
    }
    expect(hotHits / 9_000).toBeGreaterThan(0.9)
    expect(s.policy().rejected).toBeGreaterThan(8_000)
  })

  it('admits a candidate more popular than the victim it would evict', () => {
    const { store: s, clock } = store(100, { adaptive: false })
    for (let i = 0; i < 100; i++) access(s, clock, `cold:${i}`)
    // The newcomer is read (missed) several times before it is stored: warmer than any cold entry.
    for (let i = 0; i < 4; i++) {
      s.get('newcomer')
      s.get(`elsewhere:${i}`)
    }
    s.set('newcomer', entry(clock))
    for (let i = 0; i < 3; i++) access(s, clock, `push:${i}`) // pushes it out of the tiny window
    expect(s.peek('newcomer')).toBeDefined()
    expect(s.policy().admitted).toBeGreaterThan(0)
  })

  it('counts a miss once when the cache looks it up twice before storing it', () => {
    const { store: s, clock } = store(100)
    s.get('k')
    s.get('k')
    s.set('k', entry(clock))
    expect(s.frequency('k')).toBe(1)
    s.get('k')
    expect(s.frequency('k')).toBe(2)
  })
})

describe('TinyLfuStore: buffered hits', () => {
  it('applies hits before the next write decides what to evict', () => {
    const { store: s, clock } = store(100, { adaptive: false })
    for (let i = 0; i < 100; i++) s.set(`k${i}`, entry(clock))
    // 'new' is missed twice (warmer than any stored key, which were only written).
    for (const key of ['new', 'x', 'new', 'y']) s.get(key)
    // k0 sits at the cold end of probation; these hits are buffered, not yet applied.
    for (let i = 0; i < 3; i++) expect(s.get('k0')).toBeDefined()
    s.set('new', entry(clock))
    s.set('other', entry(clock)) // pushes 'new' out of the window: it wins its duel and evicts a victim
    expect(s.policy().admitted).toBe(1)
    // Applied at the first set, the hits promoted k0, so the victim was the next coldest key.
    expect(s.peek('k0')).toBeDefined()
    expect(s.peek('k1')).toBeUndefined()
  })

  it('applies a hit to the key that was hit, even when its slot is reused at once', () => {
    const { store: s, clock } = store(100)
    s.set('a', entry(clock))
    s.get('a')
    s.delete('a')
    s.set('b', entry(clock)) // takes the slot 'a' had
    expect(s.frequency('a')).toBe(1)
    expect(s.frequency('b')).toBe(0)
  })
})

describe('TinyLfuStore: byte weighting', () => {
  it('never holds more than maxBytes after any set', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 400 }), fc.boolean()), { minLength: 1, maxLength: 400 }),
      (ops) => {
        const { store: s, clock } = store(1_000)
        for (const [k, size, read] of ops) {
          if (read) s.get(`k${k}`)
          s.set(`k${k}`, entry(clock, size))
          const stats = s.stats()
          if (stats.bytes > 1_000) return false
          let sum = 0
          let count = 0
          s.forEach((e) => { sum += e.size; count++ })
          if (sum !== stats.bytes || count !== stats.entries) return false
        }
        return true
      }), { numRuns: 200 })
  })

  it('a huge, lukewarm entry does not flush the many small entries it would displace', () => {
    const { store: s, clock } = store(1_000, { adaptive: false })
    for (let round = 0; round < 3; round++) for (let i = 0; i < 100; i++) access(s, clock, `small:${i}`, 9)
    const before = s.stats().entries
    // Read twice, then stored: 900 bytes would need ~100 victims read three times each.
    s.get('huge')
    s.get('other')
    s.get('huge')
    s.set('huge', entry(clock, 900))
    for (let i = 0; i < 5; i++) access(s, clock, `filler:${i}`, 9)
    expect(s.peek('huge')).toBeUndefined()
    let small = 0
    for (let i = 0; i < 100; i++) if (s.peek(`small:${i}`) !== undefined) small++
    expect(small).toBeGreaterThanOrEqual(before - 10)
  })

  it('admits a large entry when it is hotter than everything it displaces together', () => {
    const { store: s, clock } = store(1_000, { adaptive: false })
    for (let i = 0; i < 100; i++) access(s, clock, `small:${i}`, 10)
    for (let i = 0; i < 12; i++) {
      s.get('big')
      s.get(`elsewhere:${i}`)
    }
    // The cache is full: 100 bytes displace 10 entries read once each, and 12 reads beat 10.
    s.set('big', entry(clock, 100))
    expect(s.peek('big')).toBeDefined()
    expect(s.stats().bytes).toBeLessThanOrEqual(1_000)
  })

  it('refuses an entry larger than the whole cache and drops the older copy', () => {
    const { store: s, clock, evicted } = store(1_000)
    s.set('k', entry(clock, 10))
    s.set('k', entry(clock, 1_001))
    expect(s.get('k')).toBeUndefined()
    expect(s.stats().bytes).toBe(0)
    expect(evicted).toEqual([['k', 'replaced']])
  })

  it('re-weighs an entry replaced by a larger value', () => {
    const { store: s, clock } = store(100)
    for (let i = 0; i < 10; i++) s.set(`k${i}`, entry(clock, 10))
    s.set('k3', entry(clock, 40))
    expect(s.stats().bytes).toBeLessThanOrEqual(100)
    expect(s.peek('k3')?.size).toBe(40)
  })
})

describe('TinyLfuStore: expiry', () => {
  it('reclaims dead entries without anyone reading them', async () => {
    const { store: s, clock, evicted } = store(10_000)
    for (let i = 0; i < 50; i++) s.set(`short:${i}`, entry(clock, 10, 5_000))
    for (let i = 0; i < 50; i++) s.set(`long:${i}`, entry(clock, 10, 3_600_000))
    expect(s.stats().bytes).toBe(1_000)
    await clock.advance(10_000)
    // Any later activity on other keys advances the timer wheel; the dead entries are never read.
    s.get('long:0')
    expect(s.stats().entries).toBe(50)
    expect(s.stats().bytes).toBe(500)
    expect(s.stats().expirations).toBe(50)
    expect(evicted.filter(([, r]) => r === 'expired').length).toBe(50)
    expect(evicted.every(([k]) => k.startsWith('short:'))).toBe(true)
  })

  it('reclaims entries whose TTL runs for days (overflow wheel)', async () => {
    const { store: s, clock } = store(10_000)
    s.set('week', entry(clock, 10, 7 * 86_400_000))
    s.set('forever', { ...entry(clock, 10), freshUntil: Infinity, staleUntil: Infinity })
    for (let day = 0; day < 8; day++) {
      await clock.advance(86_400_000)
      s.set(`day:${day}`, entry(clock, 10, 1_000))
    }
    expect(s.peek('week')).toBeUndefined()
    expect(s.stats().entries).toBe(2) // 'forever' and the last day's entry
    expect(s.peek('forever')).toBeDefined()
  })

  it('serves an entry until the millisecond before staleUntil, whatever its offset in a wheel tick', async () => {
    const { store: s, clock } = store(100)
    for (const ttl of [1, 1023, 1024, 1025, 5_000]) {
      s.set(`k${ttl}`, entry(clock, 1, ttl))
    }
    for (let elapsed = 1; elapsed <= 5_000; elapsed++) {
      await clock.advance(1)
      for (const ttl of [1, 1023, 1024, 1025, 5_000]) {
        if (ttl >= elapsed - 1) expect(s.get(`k${ttl}`) !== undefined).toBe(ttl > elapsed)
      }
    }
  })

  it('does not return an entry past staleUntil, even between wheel ticks', async () => {
    const { store: s, clock } = store(100)
    s.set('k', entry(clock, 1, 50))
    await clock.advance(50)
    expect(s.get('k')).toBeUndefined()
    expect(s.stats().expirations).toBe(1)
  })
})

describe('TinyLfuStore: eviction listener', () => {
  it('reports each reason', async () => {
    const { store: s, clock, evicted } = store(3, { adaptive: false })
    s.set('a', entry(clock))
    s.set('a', entry(clock))
    s.set('b', entry(clock, 1, 10))
    s.delete('a')
    s.set('c', entry(clock))
    s.set('d', entry(clock))
    s.set('e', entry(clock))
    s.set('f', entry(clock))
    await clock.advance(20)
    s.get('b')
    s.clear()
    const reasons = new Set(evicted.map(([, r]) => r))
    expect([...reasons].sort()).toEqual(['capacity', 'cleared', 'deleted', 'expired', 'replaced'])
    expect(evicted).toContainEqual(['a', 'replaced'])
    expect(evicted).toContainEqual(['a', 'deleted'])
    expect(s.stats().entries).toBe(0)
  })

  it('survives a listener that writes back into the store or throws', () => {
    const clock = new ManualClock()
    const s: TinyLfuStore = new TinyLfuStore({
      maxBytes: 50, clock, seed: 1, weigher: () => 1,
      onEvict: (key, e, reason) => {
        if (reason === 'capacity' && !key.startsWith('again:')) s.set(`again:${key}`, e)
        if (key.endsWith('7')) throw new Error('listener bug')
      },
    })
    for (let i = 0; i < 500; i++) s.set(`k${i}`, entry(clock))
    const stats = s.stats()
    expect(stats.bytes).toBeLessThanOrEqual(50)
    let count = 0
    s.forEach(() => { count++ })
    expect(count).toBe(stats.entries)
  })
})
