import { describe, expect, it } from 'vitest'
import { zipfCdf } from '../../src/dashboard/load-generator.js'
import { quantile } from '../../src/dashboard/quantile.js'

describe('dashboard helpers', () => {
  it('zipfCdf: uniform at skew 0, heavier on the first ids as skew grows, ending at 1', () => {
    const uniform = zipfCdf(4, 0)
    expect([...uniform]).toEqual([0.25, 0.5, 0.75, 1])
    const skewed = zipfCdf(1000, 1)
    expect(skewed[999]).toBeCloseTo(1, 12)
    expect(skewed[0]).toBeGreaterThan(0.1)
    for (let i = 1; i < 1000; i++) expect(skewed[i]!).toBeGreaterThan(skewed[i - 1]!)
  })

  it('quantile: nearest rank, null without values', () => {
    expect(quantile([], 0.5)).toBeNull()
    expect(quantile([5, 1, 3], 0.5)).toBe(3)
    expect(quantile(Array.from({ length: 100 }, (_, i) => 100 - i), 0.99)).toBe(100)
    expect(quantile([7], 0.99)).toBe(7)
  })
})
