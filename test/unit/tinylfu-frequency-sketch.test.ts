import { describe, expect, it } from 'vitest'
import { FrequencySketch, MAX_FREQUENCY } from '../../src/l1/tinylfu/frequency-sketch.js'
import { fmix32 } from '../../src/l1/tinylfu/hash.js'

const hash = (i: number): number => fmix32(i * 0x9e3779b9 + 1)

describe('FrequencySketch', () => {
  it('counts occurrences of a key', () => {
    const sketch = new FrequencySketch(1024)
    for (let i = 0; i < 5; i++) sketch.increment(hash(1))
    for (let i = 0; i < 2; i++) sketch.increment(hash(2))
    expect(sketch.frequency(hash(1))).toBe(5)
    expect(sketch.frequency(hash(2))).toBe(2)
    expect(sketch.frequency(hash(3))).toBe(0)
  })

  it('saturates at 15', () => {
    const sketch = new FrequencySketch(1024)
    for (let i = 0; i < 100; i++) sketch.increment(hash(7))
    expect(sketch.frequency(hash(7))).toBe(MAX_FREQUENCY)
  })

  it('over-estimates rarely: a count-min never under-counts, and few keys look warm by collision', () => {
    const sketch = new FrequencySketch(1000)
    for (let k = 0; k < 1000; k++) for (let i = 0; i < (k % 4) + 1; i++) sketch.increment(hash(k))
    let inflated = 0
    for (let k = 0; k < 1000; k++) {
      const f = sketch.frequency(hash(k))
      expect(f).toBeGreaterThanOrEqual((k % 4) + 1)
      if (f > (k % 4) + 1) inflated++
    }
    // 16 counters per expected key: collisions on all four rows are rare.
    expect(inflated).toBeLessThan(50)
    let unseenWarm = 0
    for (let k = 1000; k < 2000; k++) if (sketch.frequency(hash(k)) >= 2) unseenWarm++
    expect(unseenWarm).toBeLessThan(20)
  })

  it('halves every counter once the sample size is reached (ageing)', () => {
    const sketch = new FrequencySketch(64)
    for (let i = 0; i < 10; i++) sketch.increment(hash(1))
    expect(sketch.resets).toBe(0)
    // Distinct keys until the additions reach the sample size.
    // (The table is sized for 64 keys and sees 10x that many before halving, so a collision may
    // add one: 10 halves to 5, or to 6 if every row of key 1 met another key.)
    let k = 100
    while (sketch.resets === 0) sketch.increment(hash(k++))
    expect(sketch.frequency(hash(1))).toBeGreaterThanOrEqual(5)
    expect(sketch.frequency(hash(1))).toBeLessThanOrEqual(6)
    // A saturated counter halves to 7 (15 >> 1).
    for (let i = 0; i < 40; i++) sketch.increment(hash(2))
    const before = sketch.resets
    while (sketch.resets === before) sketch.increment(hash(k++))
    expect(sketch.frequency(hash(2))).toBe(7)
  })

  it('does not count increments that change nothing (saturated keys do not hasten ageing)', () => {
    const sketch = new FrequencySketch(64)
    for (let i = 0; i < sketch.sampleSize * 3; i++) sketch.increment(hash(9))
    // 15 increments changed something; every later one found the counters saturated.
    expect(sketch.resets).toBe(0)
  })

  it('is sized for at least 512 keys, so a small cache\'s counts are not halved every few hundred requests', () => {
    const sketch = new FrequencySketch(16)
    expect(sketch.capacity).toBe(512)
    expect(sketch.sampleSize).toBe(5_120)
    // A key counted 4 times, then 1,000 requests for other keys: still counted (halved at most once
    // only after 5,120 counted requests).
    for (let i = 0; i < 4; i++) sketch.increment(hash(1))
    for (let k = 100; k < 1_100; k++) sketch.increment(hash(k))
    expect(sketch.resets).toBe(0)
    expect(sketch.frequency(hash(1))).toBeGreaterThanOrEqual(4)
  })

  it('keeps every count when it grows', () => {
    const sketch = new FrequencySketch(16)
    const counts = new Map<number, number>()
    for (let k = 0; k < 12; k++) {
      counts.set(k, (k % 7) + 1)
      for (let i = 0; i < (k % 7) + 1; i++) sketch.increment(hash(k))
    }
    const before = [...counts.keys()].map((k) => sketch.frequency(hash(k)))
    sketch.ensureCapacity(100_000)
    expect(sketch.capacity).toBe(131_072)
    expect([...counts.keys()].map((k) => sketch.frequency(hash(k)))).toEqual(before)
  })

  it('keeps every count when its ageing period changes, and then halves on the new period', () => {
    const sketch = new FrequencySketch(1024)
    for (let k = 0; k < 12; k++) for (let i = 0; i < (k % 7) + 1; i++) sketch.increment(hash(k))
    const before = Array.from({ length: 12 }, (_, k) => sketch.frequency(hash(k)))
    expect(sketch.sampleSize).toBe(10_240)
    sketch.setSampleFactor(2.5)
    expect(sketch.sampleFactor).toBe(2.5)
    expect(sketch.sampleSize).toBe(2_560)
    expect(sketch.resets).toBe(0)
    expect(Array.from({ length: 12 }, (_, k) => sketch.frequency(hash(k)))).toEqual(before)
    // The increments already counted still count toward the (shorter) period: 1 + 2 + ... + 7 and
    // 1 + 2 + ... + 5 of them so far.
    let k = 100
    let added = 28 + 15
    while (sketch.resets === 0) {
      sketch.increment(hash(k++))
      added++
    }
    // Each new key adds one counted increment unless all its counters were already saturated
    // (never, here), so the halving came at the new period, not the old one.
    expect(added).toBe(2_560)
    expect(sketch.frequency(hash(6))).toBeGreaterThanOrEqual(3)
    expect(sketch.frequency(hash(6))).toBeLessThanOrEqual(4)
  })

  it('keeps its ageing factor when it grows', () => {
    const sketch = new FrequencySketch(16)
    sketch.setSampleFactor(5)
    expect(sketch.sampleSize).toBe(2_560)
    sketch.ensureCapacity(4_000)
    expect(sketch.capacity).toBe(4_096)
    expect(sketch.sampleSize).toBe(20_480)
  })

  it('takes a period in increments for a sketch of sampled keys', () => {
    const sketch = new FrequencySketch(16)
    sketch.setSampleSize(100)
    let k = 0
    while (sketch.resets === 0) sketch.increment(hash(k++))
    expect(k).toBe(100)
  })
})
