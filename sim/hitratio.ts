/**
 * The hit-ratio simulator: replays access traces through tiercache's L1 policy (adaptive
 * W-TinyLFU) and every reference policy, at cache sizes given as fractions of each trace's
 * distinct keys (of its distinct bytes, for sized traces). One row per trace and size, as a
 * markdown table or (--json) one JSON object per line.
 *
 *   npm run bench:hitratio                          every trace in ../shared/traces + synthetic
 *   npm run bench:hitratio -- --trace x.i32.gz --sizes 1%,10% --json
 *
 * Policies (sim/*.ts, each with its paper cited): OPT (Bélády with bypass, the upper bound; unit
 * traces only), tiercache's store, the same store with a fixed 1% window (classic W-TinyLFU), LRU,
 * ARC, S3-FIFO, SIEVE, LIRS (unit traces only) and GDSF (sized traces only). "Best reference" is
 * the best of every policy except tiercache and OPT; a row where tiercache is more than one point
 * below it is marked ✗. On sized traces (`.kw.gz`) the cache is sized in bytes, tiercache's store
 * runs with `maxBytes` and weighs entries by size, the references evict until the new object fits,
 * and both the object hit ratio (the one compared) and the byte hit ratio are reported.
 *
 * Synthetic workloads (sim/workloads.ts, seeded): Zipf over 1,000,000 keys with α 0.6, 0.8, 0.9,
 * 1.0, 1.2 (with the top-C bound: the probability mass of the C most popular keys, the best any
 * cache can do on independent requests); Zipf 0.9 with a burst of 20,000 never-seen keys after
 * every 50,000 requests; Zipf 0.9 whose ranking slides by one key every 20 requests (new keys
 * arrive on top); a loop over 10,000 keys at 90% of them. Zipf variants are sized as fractions of
 * the 1,000,000-key space.
 *
 * Options:
 *   --trace <file>       a trace to run (repeatable); with it, only the given traces run
 *   --traces-dir <dir>   where the default traces live (default ../shared/traces)
 *   --sizes <list>       cache sizes, e.g. 1%,10% or 0.05 (default 1%,2%,5%,10%,25%; the loop
 *                        workload: 90%)
 *   --synthetic          include the synthetic workloads even with --trace
 *   --no-synthetic       skip them; --no-traces skips the trace files
 *   --requests <n>       length of each synthetic workload (default 5000000)
 *   --seed <n>           generator seed (default 1)
 *   --lirs-unbounded     add LIRS with its stack unbounded (the paper's setting; the default LIRS
 *                        keeps non-resident entries up to 2× the cache) as one more reference
 *   --store-seed <n>     tiercache store's hash seed (default 42; it changes sketch collisions and
 *                        the climber's sampled keys, so other seeds show how robust a row is)
 *   --json               one JSON object per row instead of the table
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { arcPolicy } from './arc.js'
import { gdsfPolicy } from './gdsf.js'
import type { PolicyResult, ReferencePolicy } from './id-lists.js'
import { lirsPolicy, lirsUnboundedPolicy } from './lirs.js'
import { lruPolicy } from './lru.js'
import { optHits } from './opt.js'
import { keyStrings, tinylfuRun } from './policies.js'
import { s3fifoPolicy } from './s3fifo.js'
import { sievePolicy } from './sieve.js'
import { listTraces, parseSize, readTrace } from './trace-file.js'
import type { Workload } from './workloads.js'
import { loopWorkload, zipfDriftWorkload, zipfScanWorkload, zipfWorkload } from './workloads.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Cache sizes every trace and workload runs at unless --sizes says otherwise. */
export const DEFAULT_SIZES: readonly number[] = [0.01, 0.02, 0.05, 0.1, 0.25]

/** Reference policies, in table order, and where each runs. */
export interface Reference { readonly name: string; readonly run: ReferencePolicy; readonly unit: boolean; readonly sized: boolean }
export const REFERENCES: readonly Reference[] = [
  { name: 'LRU', run: lruPolicy, unit: true, sized: true },
  { name: 'ARC', run: arcPolicy, unit: true, sized: true },
  { name: 'S3-FIFO', run: s3fifoPolicy, unit: true, sized: true },
  { name: 'SIEVE', run: sievePolicy, unit: true, sized: true },
  { name: 'LIRS', run: lirsPolicy, unit: true, sized: false },
  { name: 'GDSF', run: gdsfPolicy, unit: false, sized: true },
]
/** The paper's LIRS, metadata unbounded: `--lirs-unbounded` adds it. */
export const LIRS_UNBOUNDED: Reference = { name: 'LIRS (S unbounded)', run: lirsUnboundedPolicy, unit: true, sized: false }
/** The store with a fixed 1% window: classic W-TinyLFU (Caffeine's simulator default), a reference too. */
export const FIXED = 'W-TinyLFU 1%'

/** One result row. Hit ratios are fractions in [0, 1]. */
export interface Row {
  readonly trace: string
  readonly size: number
  /** Cache capacity: entries, or bytes on a sized trace. */
  readonly capacity: number
  readonly requests: number
  readonly distinct: number
  readonly sized: boolean
  /** Object hit ratio per policy: `tiercache`, `OPT` (unit traces), and every reference's name. */
  readonly hitRatio: Readonly<Record<string, number>>
  /** Sized traces: byte hit ratio per policy. */
  readonly byteHitRatio?: Readonly<Record<string, number>>
  /** Top-C bound for independent requests (synthetic Zipf only). */
  readonly bound?: number
  /** The best reference policy on this row (object hit ratio), its hit ratio, and tiercache minus it in points. */
  readonly bestName: string
  readonly best: number
  readonly gap: number
}

function main(): void {
  const { values } = parseArgs({
    options: {
      trace: { type: 'string', multiple: true },
      'traces-dir': { type: 'string', default: resolve(repo, '../shared/traces') },
      sizes: { type: 'string' },
      synthetic: { type: 'boolean' },
      'no-synthetic': { type: 'boolean' },
      'no-traces': { type: 'boolean' },
      requests: { type: 'string', default: '5000000' },
      seed: { type: 'string', default: '1' },
      'store-seed': { type: 'string', default: '42' },
      'lirs-unbounded': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  const sizes = values.sizes?.split(',').map((s) => {
    const size = parseSize(s)
    if (size === undefined) throw new Error(`--sizes: expected sizes like 1% or 0.05, got "${s}"`)
    return size
  })
  const dir = resolve(values['traces-dir'])
  const files = values.trace !== undefined ? values.trace.map((f) => resolve(f))
    : values['no-traces'] === true ? [] : listTraces(dir)
  const synthetic = values['no-synthetic'] !== true && (values.trace === undefined || values.synthetic === true)
  const requests = Number(values.requests)
  const seed = Number(values.seed)
  const storeSeed = Number(values['store-seed'])
  const references = values['lirs-unbounded'] ? [...REFERENCES, LIRS_UNBOUNDED] : REFERENCES

  const rows: Row[] = []
  const emit = (row: Row): void => {
    if (values.json) console.log(JSON.stringify(row))
    else process.stderr.write(`${row.trace} ${+(row.size * 100).toFixed(2)}%: tiercache ${(row.hitRatio.tiercache! * 100).toFixed(1)}, ` +
      `best ${row.bestName} ${(row.best * 100).toFixed(1)}\n`)
    rows.push(row)
  }
  for (const file of files) {
    const workload = readTrace(file)
    for (const size of sizes ?? DEFAULT_SIZES) emit(simulate(workload, size, storeSeed, references))
  }
  if (synthetic) {
    for (const make of syntheticWorkloads(requests, seed)) {
      const workload = make()
      for (const size of sizes ?? workload.sizes ?? DEFAULT_SIZES) emit(simulate(workload, size, storeSeed, references))
    }
  }
  if (!values.json) printTables(rows, references)
}

/** The project's synthetic workloads, built lazily (each holds millions of requests). */
export function syntheticWorkloads(requests: number, seed: number): (() => Workload)[] {
  const keys = 1_000_000
  return [
    ...[0.6, 0.8, 0.9, 1.0, 1.2].map((alpha, i) => () => zipfWorkload(alpha, keys, requests, seed + i)),
    () => zipfScanWorkload(keys, requests, seed + 10),
    () => zipfDriftWorkload(keys, requests, seed + 11),
    () => loopWorkload(10_000, Math.min(requests, 2_000_000)),
  ]
}

/** Runs every policy on one workload at one size. */
export function simulate(workload: Workload, size: number, storeSeed = 42, references: readonly Reference[] = REFERENCES): Row {
  const { trace, distinct, objectSizes: sizes } = workload
  const sized = sizes !== undefined
  const base = workload.sizeBase ?? (sized ? sizes.reduce((sum, s) => sum + s, 0) : distinct)
  const capacity = Math.max(1, Math.round(base * size))
  const keys = keyStrings(distinct)
  const results: [string, PolicyResult][] = [
    ['tiercache', tinylfuRun(workload, keys, capacity, { seed: storeSeed })],
    [FIXED, tinylfuRun(workload, keys, capacity, { seed: storeSeed, adaptive: false })],
  ]
  for (const reference of references) {
    if (sized ? reference.sized : reference.unit) results.push([reference.name, reference.run(workload, capacity)])
  }
  const n = trace.length
  let totalBytes = 0
  if (sized) for (let i = 0; i < n; i++) totalBytes += sizes[trace[i] as number] as number
  const hitRatio: Record<string, number> = {}
  const byteHitRatio: Record<string, number> = {}
  if (!sized) hitRatio.OPT = optHits(trace, capacity, distinct) / n
  for (const [name, result] of results) {
    hitRatio[name] = result.hits / n
    if (sized) byteHitRatio[name] = result.byteHits / totalBytes
  }
  let bestName = ''
  let best = -1
  for (const [name] of results.slice(1)) {
    if ((hitRatio[name] as number) > best) {
      best = hitRatio[name] as number
      bestName = name
    }
  }
  return {
    trace: workload.name,
    size,
    capacity,
    requests: n,
    distinct,
    sized,
    hitRatio,
    ...(sized ? { byteHitRatio } : {}),
    ...(workload.bound !== undefined ? { bound: workload.bound(capacity) } : {}),
    bestName,
    best,
    gap: ((hitRatio.tiercache as number) - best) * 100,
  }
}

const pct = (x: number | undefined): string => (x === undefined ? '' : (x * 100).toFixed(1))

export function printTables(rows: readonly Row[], references: readonly Reference[] = REFERENCES): void {
  const unit = rows.filter((r) => !r.sized)
  const sized = rows.filter((r) => r.sized)
  const refs = (kind: 'unit' | 'sized'): string[] => references.filter((r) => r[kind]).map((r) => r.name)
  if (unit.length > 0) {
    const names = [FIXED, ...refs('unit')]
    console.log(`| trace | cache | entries | OPT | tiercache | ${names.join(' | ')} | best reference | tiercache − best | top-C bound |`)
    console.log(`| ${Array(names.length + 8).fill('---').join(' | ')} |`)
    for (const row of unit) {
      console.log(`| ${row.trace} | ${+(row.size * 100).toFixed(2)}% | ${row.capacity} | ${pct(row.hitRatio.OPT)} | ${pct(row.hitRatio.tiercache)} | ` +
        `${names.map((n) => pct(row.hitRatio[n])).join(' | ')} | ${row.bestName} ${pct(row.best)} | ${gapText(row.gap)} | ` +
        `${row.bound === undefined ? '' : `${pct(row.bound)} (${((row.hitRatio.tiercache as number) / row.bound * 100).toFixed(1)}% of it)`} |`)
    }
  }
  if (sized.length > 0) {
    const names = [FIXED, ...refs('sized')]
    if (unit.length > 0) console.log('')
    console.log(`| trace | cache | bytes | tiercache | ${names.join(' | ')} | best reference | tiercache − best |`)
    console.log(`| ${Array(names.length + 6).fill('---').join(' | ')} |`)
    for (const row of sized) {
      const cell = (n: string): string => `${pct(row.hitRatio[n])} / ${pct(row.byteHitRatio?.[n])}`
      console.log(`| ${row.trace} | ${+(row.size * 100).toFixed(2)}% | ${row.capacity} | ${cell('tiercache')} | ${names.map(cell).join(' | ')} | ` +
        `${row.bestName} ${pct(row.best)} | ${gapText(row.gap)} |`)
    }
  }
}

function gapText(gap: number): string {
  return `${gap >= 0 ? '+' : ''}${gap.toFixed(1)}${gap < -1 ? ' ✗' : ''}`
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
