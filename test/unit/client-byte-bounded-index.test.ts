import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ByteBoundedIndex } from '../../src/client/byte-bounded-index.js'
import type { IndexedEntry } from '../../src/client/byte-bounded-index.js'

const entry = (url: string, bytes: number, storedAt = 0, expiresAt = Number.MAX_SAFE_INTEGER): IndexedEntry => ({ url, bytes, storedAt, expiresAt, tags: [] })

describe('ByteBoundedIndex (the service worker cache\'s bookkeeping)', () => {
  it('evicts least recently used first to stay within the bound', () => {
    const index = new ByteBoundedIndex(100)
    expect(index.admit(entry('a', 40)).evicted).toEqual([])
    expect(index.admit(entry('b', 40)).evicted).toEqual([])
    index.touch('a') // b is now the least recently used
    const { admitted, evicted } = index.admit(entry('c', 40))
    expect(admitted).toBe(true)
    expect(evicted.map((e) => e.url)).toEqual(['b'])
    expect(index.bytes).toBe(80)
    expect([...index.entries()].map((e) => e.url)).toEqual(['a', 'c'])
  })

  it('refuses an entry larger than the whole bound and changes nothing', () => {
    const index = new ByteBoundedIndex(100)
    index.admit(entry('a', 60))
    expect(index.admit(entry('huge', 101))).toEqual({ admitted: false, evicted: [] })
    expect(index.bytes).toBe(60)
    expect(index.get('huge')).toBeUndefined()
  })

  it('replaces an entry of the same URL without counting it twice', () => {
    const index = new ByteBoundedIndex(100)
    index.admit(entry('a', 60))
    expect(index.admit(entry('a', 90)).evicted).toEqual([])
    expect(index.bytes).toBe(90)
    expect(index.size).toBe(1)
  })

  it('lists expired entries by the time given', () => {
    const index = new ByteBoundedIndex(100)
    index.admit(entry('old', 1, 0, 1000))
    index.admit(entry('new', 1, 0, 5000))
    expect(index.expired(999)).toEqual([])
    expect(index.expired(1000).map((e) => e.url)).toEqual(['old'])
  })

  it('rejects a bound or a size that is not a non-negative integer', () => {
    expect(() => new ByteBoundedIndex(0)).toThrow(/maxBytes/)
    expect(() => new ByteBoundedIndex(1.5)).toThrow(/maxBytes/)
    expect(() => new ByteBoundedIndex(10).admit(entry('a', -1))).toThrow(/bytes/)
  })

  it('never holds more than the bound, evicts no more than needed, and its total is the sum of what it holds (any sequence)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('admit' as const), url: fc.integer({ min: 0, max: 20 }), bytes: fc.integer({ min: 0, max: 150 }) }),
      fc.record({ kind: fc.constant('touch' as const), url: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('remove' as const), url: fc.integer({ min: 0, max: 20 }) }),
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const index = new ByteBoundedIndex(100)
      for (const o of ops) {
        if (o.kind === 'admit') {
          const before = new Set([...index.entries()].map((e) => e.url))
          const { admitted, evicted } = index.admit(entry(`u${o.url}`, o.bytes))
          expect(admitted).toBe(o.bytes <= 100)
          // Evicted entries were held, and are held no more.
          for (const e of evicted) {
            expect(before.has(e.url)).toBe(true)
            expect(index.get(e.url)).toBeUndefined()
          }
          // No more than needed: keeping the last one evicted would have gone over the bound.
          const last = evicted.at(-1)
          if (last !== undefined) expect(index.bytes + last.bytes).toBeGreaterThan(100)
        } else if (o.kind === 'touch') index.touch(`u${o.url}`)
        else index.remove(`u${o.url}`)
        const held = [...index.entries()]
        expect(index.bytes).toBe(held.reduce((sum, e) => sum + e.bytes, 0))
        expect(index.bytes).toBeLessThanOrEqual(100)
        expect(index.size).toBe(held.length)
      }
    }))
  })
})
