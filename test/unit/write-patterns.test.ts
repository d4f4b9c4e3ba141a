import { describe, expect, it } from 'vitest'
import { LagWindow } from '../../src/core/lag-window.js'
import { topByScore } from '../../src/core/warm.js'
import { WRITE_BEHIND_DEFAULTS, resolveWriteBehind } from '../../src/core/write-behind-options.js'
import { resolveOptions } from '../../src/compose/options.js'

describe('topByScore', () => {
  it('keeps the n highest, highest first, ties in input order', () => {
    const items = [{ key: 'a', score: 1 }, { key: 'b', score: 5 }, { key: 'c', score: 3 }, { key: 'd', score: 5 }, { key: 'e', score: 0 }]
    expect(topByScore(items, 3)).toEqual(['b', 'd', 'c'])
    expect(topByScore(items, 0)).toEqual([])
    expect(topByScore(items, 10)).toEqual(['b', 'd', 'c', 'a', 'e'])
  })

  it('agrees with a full sort on a large input', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({ key: `k${i}`, score: (i * 48271) % 65521 }))
    const sorted = [...items].sort((x, y) => y.score - x.score || Number(x.key.slice(1)) - Number(y.key.slice(1)))
    expect(topByScore(items, 500)).toEqual(sorted.slice(0, 500).map((i) => i.key))
  })
})

describe('LagWindow', () => {
  it('reports p50, p99 and max over the last samples', () => {
    const w = new LagWindow(100)
    expect(w.summary()).toBeUndefined()
    for (let i = 1; i <= 1_000; i++) w.record(i)
    expect(w.summary()).toEqual({ p50: 951, p99: 1000, max: 1000, samples: 100 })
  })
})

describe('write-behind options', () => {
  const { settings } = resolveOptions({ ttl: '1m' })

  it('fills in the defaults and the cache ttl', () => {
    const o = resolveWriteBehind(settings, 'orders', { flush: () => {} })
    expect(o).toMatchObject({ ...WRITE_BEHIND_DEFAULTS, ttl: 60_000, consume: true })
  })

  it('names the option that is wrong', () => {
    const flush = (): void => {}
    expect(() => resolveWriteBehind(settings, 'orders', { flush, batchSize: 0 })).toThrow('expected batchSize to be an integer from 1 to 100000, got number 0')
    expect(() => resolveWriteBehind(settings, 'orders', { flush, whenFull: 'drop' })).toThrow("expected whenFull to be 'wait' or 'throw'")
    expect(() => resolveWriteBehind(settings, 'orders', { flush, retryDelay: '1s', maxRetryDelay: '10ms' })).toThrow(/maxRetryDelay/)
    expect(() => resolveWriteBehind(settings, 'orders', { flush, flushInterval: '1 second' })).toThrow(/flushInterval/)
    expect(() => resolveWriteBehind(settings, 'a{b}', { flush })).toThrow(/expected name/)
    expect(() => resolveWriteBehind(settings, 'orders', { consume: false })).not.toThrow()
  })
})
