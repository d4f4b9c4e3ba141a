import { describe, expect, it } from 'vitest'
import { hashString, randomSeed, XorShift32 } from '../../src/l1/tinylfu/hash.js'

describe('seeded hashing', () => {
  it('is deterministic for a seed and different across seeds', () => {
    expect(hashString('user:1', 7)).toBe(hashString('user:1', 7))
    expect(hashString('user:1', 7)).not.toBe(hashString('user:1', 8))
    expect(hashString('', 1)).not.toBe(hashString('', 2))
  })

  it('spreads keys evenly over the low bits (the sketch picks blocks with them)', () => {
    const buckets = new Array<number>(64).fill(0)
    for (let i = 0; i < 64_000; i++) buckets[hashString(`k${i}`, 12345) & 63]!++
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150)
  })

  it('collisions found under one seed are not collisions under another', () => {
    // An attacker who learned seed A precomputes keys sharing the low 10 bits with a target key.
    const seedA = 1
    const seedB = 2
    const target = 'victim'
    const colliding: string[] = []
    for (let i = 0; colliding.length < 200; i++) {
      if ((hashString(`a${i}`, seedA) & 1023) === (hashString(target, seedA) & 1023)) colliding.push(`a${i}`)
    }
    const stillColliding = colliding.filter((k) => (hashString(k, seedB) & 1023) === (hashString(target, seedB) & 1023))
    // Under seed B they collide at the chance rate, 1/1024.
    expect(stillColliding.length).toBeLessThanOrEqual(3)
  })

  it('draws seeds from the platform CSPRNG', () => {
    const seeds = new Set(Array.from({ length: 20 }, () => randomSeed()))
    expect(seeds.size).toBeGreaterThan(18)
  })

  it('xorshift never sticks at zero and flips fair coins', () => {
    const random = new XorShift32(0)
    let ones = 0
    for (let i = 0; i < 12_800; i++) if ((random.next() & 127) === 0) ones++
    expect(ones).toBeGreaterThan(50)
    expect(ones).toBeLessThan(160)
  })
})
