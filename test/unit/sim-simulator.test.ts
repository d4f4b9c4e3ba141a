import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import { TinyLfuStore } from '../../src/l1/tinylfu/tinylfu-store.js'
import { simulate } from '../../sim/hitratio.js'
import { optHits } from '../../sim/opt.js'
import { keyStrings, lruHits, tinylfuHits } from '../../sim/policies.js'
import { SeededRandom } from '../../sim/random.js'
import { parseSize, readTrace } from '../../sim/trace-file.js'
import { densify, loopWorkload, Zipf, zipfDriftWorkload, zipfScanWorkload, zipfWorkload } from '../../sim/workloads.js'

/** The best hit count any policy (with bypass) can get, by exhaustive search. Tiny inputs only. */
function bruteForceOpt(trace: readonly number[], capacity: number): number {
  const memo = new Map<string, number>()
  const best = (i: number, cache: readonly number[]): number => {
    if (i === trace.length) return 0
    const id = `${i}|${cache.join(',')}`
    const known = memo.get(id)
    if (known !== undefined) return known
    const key = trace[i] as number
    let result: number
    if (cache.includes(key)) {
      result = 1 + best(i + 1, cache)
    } else if (cache.length < capacity) {
      result = Math.max(best(i + 1, cache), best(i + 1, [...cache, key].sort()))
    } else {
      result = best(i + 1, cache) // bypass
      for (const victim of cache) result = Math.max(result, best(i + 1, [...cache.filter((k) => k !== victim), key].sort()))
    }
    memo.set(id, result)
    return result
  }
  return best(0, [])
}

describe('Bélády OPT', () => {
  it('matches an exhaustive search on small random traces', () => {
    const random = new SeededRandom(1)
    for (let run = 0; run < 150; run++) {
      const keys = 2 + random.int(5)
      const length = 4 + random.int(11)
      const capacity = 1 + random.int(3)
      const trace = Array.from({ length }, () => random.int(keys))
      expect(optHits(Int32Array.from(trace), capacity, keys)).toBe(bruteForceOpt(trace, capacity))
    }
  })

  it('bounds LRU and tinylfu on a generated trace', () => {
    const w = zipfScanWorkload(5_000, 60_000, 3, 5_000, 2_000)
    const keys = keyStrings(w.distinct)
    for (const capacity of [20, 200]) {
      const opt = optHits(w.trace, capacity, w.distinct)
      expect(opt).toBeGreaterThanOrEqual(lruHits(w.trace, keys, capacity))
      expect(opt).toBeGreaterThanOrEqual(tinylfuHits(w.trace, keys, capacity))
    }
  })
})

describe('workload generator', () => {
  it('is deterministic for a seed', () => {
    expect(zipfWorkload(0.9, 1_000, 5_000, 7).trace).toEqual(zipfWorkload(0.9, 1_000, 5_000, 7).trace)
    expect(zipfWorkload(0.9, 1_000, 5_000, 7).trace).not.toEqual(zipfWorkload(0.9, 1_000, 5_000, 8).trace)
  })

  it('draws Zipf ranks with the right probabilities, and the top-C bound is their mass', () => {
    const zipf = new Zipf(1_000, 1.0)
    const h = [...Array(1_000).keys()].reduce((s, r) => s + 1 / (r + 1), 0)
    expect(zipf.topMass(1)).toBeCloseTo(1 / h, 10)
    expect(zipf.topMass(10)).toBeCloseTo([...Array(10).keys()].reduce((s, r) => s + 1 / (r + 1), 0) / h, 10)
    expect(zipf.topMass(5_000)).toBe(1)
    const counts = new Array<number>(3).fill(0)
    const random = new SeededRandom(5)
    const n = 200_000
    for (let i = 0; i < n; i++) {
      const r = zipf.rank(random.next())
      if (r < 3) counts[r]!++
    }
    counts.forEach((c, r) => expect(Math.abs(c / n - 1 / (r + 1) / h)).toBeLessThan(0.005))
  })

  it('shapes the scan, drift and loop workloads as described', () => {
    const scans = zipfScanWorkload(1_000, 30_000, 1, 1_000, 500)
    // Every burst key is new: 500 per 1500 requests, never repeated.
    const seen = new Map<number, number>()
    for (const k of scans.trace) seen.set(k, (seen.get(k) ?? 0) + 1)
    expect([...seen.values()].filter((c) => c === 1).length).toBeGreaterThanOrEqual(20 * 500)
    expect(scans.sizeBase).toBe(1_000)

    const drift = zipfDriftWorkload(1_000, 40_000, 1, 10)
    // The hottest key of the first 2000 requests is cold in the last 2000.
    const hottest = (from: number, to: number): number => {
      const c = new Map<number, number>()
      for (let i = from; i < to; i++) c.set(drift.trace[i]!, (c.get(drift.trace[i]!) ?? 0) + 1)
      return [...c.entries()].sort((a, b) => b[1] - a[1])[0]![0]
    }
    const early = hottest(0, 2_000)
    expect(drift.trace.slice(38_000).filter((k) => k === early).length).toBeLessThan(5)

    const loop = loopWorkload(100, 1_000)
    expect(Array.from(loop.trace.slice(98, 102))).toEqual([98, 99, 0, 1])
    expect(loop.sizes).toEqual([0.9])
  })

  it('densifies ids in order of first appearance', () => {
    expect(densify(Int32Array.from([7, -3, 7, 100, -3]))).toEqual({ trace: Int32Array.from([0, 1, 0, 2, 1]), distinct: 3 })
  })
})

describe('trace files and references', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-sim-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('reads a gzip of little-endian int32 ids, densifying sparse ids', () => {
    const ids = [5, 9, 5, 2, 9, 9]
    const buf = Buffer.alloc(ids.length * 4)
    ids.forEach((id, i) => buf.writeInt32LE(id, i * 4))
    writeFileSync(join(dir, 'tiny.i32.gz'), gzipSync(buf))
    const t = readTrace(join(dir, 'tiny.i32.gz'))
    expect(t.name).toBe('tiny')
    expect(t.distinct).toBe(3)
    expect(Array.from(t.trace)).toEqual([0, 1, 0, 2, 1, 1])
  })

  it('parses sizes', () => {
    expect(parseSize('1%')).toBe(0.01)
    expect(parseSize('0.5')).toBe(0.5)
    expect(parseSize('150%')).toBeUndefined()
    expect(parseSize('abc')).toBeUndefined()
  })

  it('reads a sized trace: (id, size) pairs, each key keeping its first size', () => {
    const pairs = [[7, 100], [3, 20], [7, 150], [9, 5]]
    const buf = Buffer.alloc(pairs.length * 8)
    pairs.forEach(([id, size], i) => {
      buf.writeInt32LE(id!, i * 8)
      buf.writeInt32LE(size!, i * 8 + 4)
    })
    writeFileSync(join(dir, 'cdn.kw.gz'), gzipSync(buf))
    const t = readTrace(join(dir, 'cdn.kw.gz'))
    expect(t.name).toBe('cdn')
    expect(Array.from(t.trace)).toEqual([0, 1, 0, 2])
    expect(Array.from(t.objectSizes!)).toEqual([100, 20, 5])
    writeFileSync(join(dir, 'bad.kw.gz'), gzipSync(buf.subarray(0, 12)))
    expect(() => readTrace(join(dir, 'bad.kw.gz'))).toThrow(/multiple of 8/)
  })
})

describe('simulate', () => {
  it('reports every policy, the bound and the gap to the best reference', () => {
    const w = zipfWorkload(1.0, 2_000, 40_000, 2)
    const row = simulate(w, 0.05)
    expect(row.capacity).toBe(100)
    expect(row.requests).toBe(40_000)
    const names = ['tiercache', 'W-TinyLFU 1%', 'LRU', 'ARC', 'S3-FIFO', 'SIEVE', 'LIRS']
    expect(Object.keys(row.hitRatio).sort()).toEqual([...names, 'OPT'].sort())
    for (const name of names) expect(row.hitRatio[name]).toBeLessThanOrEqual(row.hitRatio.OPT!)
    expect(row.bound).toBeCloseTo(w.bound!(100), 10)
    // The best reference is the best of every policy but tiercache and OPT.
    const best = Math.max(...names.slice(1).map((n) => row.hitRatio[n]!))
    expect(row.best).toBe(best)
    expect(row.hitRatio[row.bestName]).toBe(best)
    expect(row.gap).toBeCloseTo((row.hitRatio.tiercache! - best) * 100, 10)
    expect(row.hitRatio.tiercache).toBeGreaterThan(row.hitRatio.LRU!)
  })

  it('sizes a sized workload in bytes and reports byte hit ratios', () => {
    const random = new SeededRandom(6)
    const objectSizes = Uint32Array.from({ length: 500 }, () => 1 + random.int(5_000))
    const trace = Int32Array.from({ length: 20_000 }, () => Math.floor(500 * random.next() ** 3))
    const total = objectSizes.reduce((a, b) => a + b, 0)
    const row = simulate({ name: 'sized', trace, distinct: 500, objectSizes }, 0.1)
    expect(row.sized).toBe(true)
    expect(row.capacity).toBe(Math.round(total * 0.1))
    expect(row.hitRatio.OPT).toBeUndefined()
    expect(row.hitRatio.LIRS).toBeUndefined()
    expect(Object.keys(row.byteHitRatio!).sort()).toEqual(['ARC', 'GDSF', 'LRU', 'S3-FIFO', 'SIEVE', 'W-TinyLFU 1%', 'tiercache'])
    for (const v of Object.values(row.byteHitRatio!)) expect(v).toBeGreaterThan(0)
  })

  it('simulates with unit weights: the byte-weighted store then counts entries exactly', () => {
    const w = zipfScanWorkload(3_000, 50_000, 4, 3_000, 1_000)
    const store = new TinyLfuStore({ maxBytes: 37, clock: new ManualClock(0), weigher: () => 1, seed: 42 })
    const entry = { value: 1, size: 1, createdAt: 0, freshUntil: Infinity, staleUntil: Infinity, tags: [], loadMs: 0 }
    let hits = 0
    let full = 0
    for (const id of w.trace) {
      if (store.get(`k${id}`) !== undefined) hits++
      else store.set(`k${id}`, entry)
      const { entries, bytes } = store.stats()
      expect(bytes).toBe(entries)
      expect(entries).toBeLessThanOrEqual(37)
      if (entries === 37) full++
    }
    expect(full).toBeGreaterThan(w.trace.length * 0.9)
    // The simulator's replay is this same loop.
    expect(tinylfuHits(w.trace, keyStrings(w.distinct), 37)).toBe(hits)
  })
})
