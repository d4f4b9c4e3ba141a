import { describe, expect, it } from 'vitest'
import { computePlan, PlanInputError } from '../../src/plan/capacity-plan.js'
import type { PlanInput } from '../../src/plan/capacity-plan.js'
import type { MeasuredFigures } from '../../src/plan/measured.js'
import { parsePlanOptions } from '../../src/plan/plan-input.js'
import { harmonic, idealLfuHitRatio } from '../../src/plan/zipf-hit-ratio.js'

const figures: MeasuredFigures = { edgeRequestsPerCore: 100, appRequestsPerCore: 200, redisReadsPerCore: 300, l1OverheadBytes: 107, redisOverheadBytes: 484 }
const base: PlanInput = {
  rps: 1000, writeRate: 100, hitRatio: 0.9, items: 1000, itemBytes: 100, keyBytes: 20,
  l1Bytes: 22_700, edgeHitRatio: 0.5, redisShardBytes: 100_000,
}

describe('tiercache plan arithmetic, against hand-computed cases', () => {
  it('given hit ratio: misses, database load, memory, fleet', () => {
    const plan = computePlan(base, figures)
    expect(plan.reads.value).toBe(900) // 1000 − 100
    expect(plan.originMisses.value).toBeCloseTo(90, 9) // 900 × 0.1
    expect(plan.databaseQueries.value).toBeCloseTo(190, 9) // 90 + 100
    expect(plan.l1EntriesPerProcess.value).toBe(100) // 22,700 ÷ (100 + 20 + 107)
    expect(plan.l1BytesPerProcess.value).toBe(22_700)
    expect(plan.l1HitRatio.value).toBe(0) // no skew given: not modelled
    expect(plan.redisEntries.value).toBe(1000)
    expect(plan.redisBytes.value).toBe(584_000) // 1000 × (100 + 484)
    expect(plan.redisEvictions.value).toBe(0) // everything fits
    expect(plan.appRequests.value).toBe(550) // 900 × 0.5 + 100
    expect(plan.redisOps.value).toBeCloseTo(640, 9) // 450 L1 misses + 90 fills + 100 writes
    expect(plan.edgeCores.value).toBe(10) // ⌈1000 ÷ 100⌉
    expect(plan.appCores.value).toBe(3) // ⌈550 ÷ 200⌉
    expect(plan.redisShards.value).toBe(6) // max(⌈640 ÷ 300⌉ = 3, ⌈584,000 ÷ 100,000⌉ = 6)
    expect(plan.redisShards.formula).toContain('max(3, 6)')
    expect(plan.hitRatio.upperBound).toBe(false)
  })

  it('Zipf: the ideal LFU hit ratio H(c,s)/H(n,s), marked as an upper bound; a full cache evicts one entry per miss', () => {
    // s = 1, 4 items, 2 cached: (1 + 1/2) / (1 + 1/2 + 1/3 + 1/4) = 1.5 / 2.0833… = 0.72
    expect(idealLfuHitRatio(2, 4, 1)).toBeCloseTo(0.72, 12)
    const plan = computePlan({ ...base, hitRatio: undefined, zipf: 1, items: 4, cacheItems: 2, writeRate: 0, edgeHitRatio: 0 }, figures)
    expect(plan.hitRatio).toMatchObject({ value: expect.closeTo(0.72, 12), upperBound: true })
    expect(plan.originMisses.value).toBeCloseTo(280, 9) // 1000 × 0.28
    expect(plan.redisEvictions.value).toBeCloseTo(280, 9)
    expect(plan.redisEntries.value).toBe(2)
    // L1 holds all 4 items (100 fit): it answers every read, evicts nothing, and Redis sees fills only.
    expect(plan.l1HitRatio.value).toBe(1)
    expect(plan.l1Evictions.value).toBe(0)
    expect(plan.redisOps.value).toBeCloseTo(280, 9)
  })

  it('the harmonic numbers: exact sums and the integrated tail agree with known values', () => {
    expect(harmonic(1, 1)).toBe(1)
    expect(harmonic(4, 2)).toBeCloseTo(1 + 1 / 4 + 1 / 9 + 1 / 16, 14)
    // H(n, 1) = ln n + γ + 1/(2n) − 1/(12n²) + …
    const n = 5_000_000
    expect(harmonic(n, 1)).toBeCloseTo(Math.log(n) + 0.5772156649015329 + 1 / (2 * n), 9)
    // ζ(2) = π²/6, approached from below with a tail of about 1/n.
    expect(harmonic(n, 2)).toBeCloseTo(Math.PI ** 2 / 6 - 1 / n, 9)
  })

  it('the design example: 1M RPS, 95% hit ratio, 10M items of 1 KiB', () => {
    const { input, measured } = parsePlanOptions({ rps: '1M', 'hit-ratio': '95%', items: '10M', 'item-bytes': '1KiB' })
    const plan = computePlan(input, measured)
    expect(plan.originMisses.value).toBeCloseTo(50_000, 6)
    expect(plan.redisBytes.value).toBe(10_000_000 * (1024 + measured.redisOverheadBytes))
    expect(plan.edgeCores.value).toBe(Math.ceil(1_000_000 / measured.edgeRequestsPerCore))
  })

  it('refuses inputs that do not make a plan, naming the option', () => {
    expect(() => parsePlanOptions({ items: '10' , 'hit-ratio': '0.9' })).toThrow('--rps')
    expect(() => parsePlanOptions({ rps: '10', items: '10' })).toThrow('--hit-ratio')
    expect(() => parsePlanOptions({ rps: '10', items: '10', 'hit-ratio': '0.9', zipf: '1' })).toThrow('not both')
    expect(() => parsePlanOptions({ rps: '10', items: '10', 'hit-ratio': '1.5' })).toThrow('--hit-ratio')
    expect(() => parsePlanOptions({ rps: 'many', items: '10', 'hit-ratio': '0.9' })).toThrow('--rps')
    expect(() => computePlan({ ...base, writeRate: 2000 }, figures)).toThrow(PlanInputError)
  })
})
