/**
 * The hit-ratio simulator: replays access traces through tiercache's L1 policy (adaptive
 * W-TinyLFU), the same policy with a fixed 1% window, LRU (the lru-cache package) and Bélády's
 * optimum, at cache sizes given as fractions of each trace's distinct keys. One row per trace and
 * size, as a markdown table or (--json) one JSON object per line.
 *
 *   npm run bench:hitratio                          every trace in ../shared/traces + synthetic
 *   npm run bench:hitratio -- --trace x.i32.gz --sizes 1%,10% --json
 *
 * Synthetic workloads (sim/workloads.ts, seeded): Zipf over 1,000,000 keys with α 0.6, 0.8, 0.9,
 * 1.0, 1.2 (with the top-C bound: the probability mass of the C most popular keys, the best any
 * cache can do on independent requests); Zipf 0.9 with a burst of 20,000 never-seen keys after
 * every 50,000 requests; Zipf 0.9 whose ranking slides by one key every 20 requests (new keys
 * arrive on top); a loop over 10,000 keys at 90% of them. Zipf variants are sized as fractions of
 * the 1,000,000-key space. Every row also shows the traces README's reference policies for that
 * trace and size, and tiercache's distance to the best of them and LRU (OPT excluded).
 *
 * Options:
 *   --trace <file>       a trace to run (repeatable); with it, only the given traces run
 *   --traces-dir <dir>   where the default traces and their README live (default ../shared/traces)
 *   --sizes <list>       cache sizes, e.g. 1%,10% or 0.05 (default: 1%,10% plus any size the
 *                        README's reference table lists for that trace)
 *   --synthetic          include the synthetic workloads even with --trace
 *   --no-synthetic       skip them; --no-traces skips the trace files
 *   --requests <n>       length of each synthetic workload (default 5000000)
 *   --seed <n>           generator seed (default 1)
 *   --store-seed <n>     tiercache store's hash seed (default 42; it changes sketch collisions and
 *                        the climber's sampled keys, so other seeds show how robust a row is)
 *   --json               one JSON object per row instead of the table
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { keyStrings, lruHits, optHits, tinylfuHits } from './policies.js'
import type { ReferenceRow } from './trace-file.js'
import { listTraces, parseSize, readReferences, readTrace } from './trace-file.js'
import type { Workload } from './workloads.js'
import { loopWorkload, zipfDriftWorkload, zipfScanWorkload, zipfWorkload } from './workloads.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** One result row. Hit ratios are fractions in [0, 1]. */
export interface Row {
  readonly trace: string
  readonly size: number
  readonly capacity: number
  readonly requests: number
  readonly distinct: number
  readonly hitRatio: { readonly tiercache: number; readonly tinylfuFixed: number; readonly lru: number; readonly opt: number }
  /** Top-C bound for independent requests (synthetic Zipf only). */
  readonly bound?: number
  /** The README's reference hit ratios for this trace and size, in percent. */
  readonly reference?: Readonly<Record<string, number>>
  /** Best of measured LRU and the README's non-OPT references, and tiercache minus it (points). */
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
      json: { type: 'boolean', default: false },
    },
  })
  const sizes = values.sizes?.split(',').map((s) => {
    const size = parseSize(s)
    if (size === undefined) throw new Error(`--sizes: expected sizes like 1% or 0.05, got "${s}"`)
    return size
  })
  const dir = resolve(values['traces-dir'])
  const references = readReferences(dir)
  const files = values.trace !== undefined ? values.trace.map((f) => resolve(f))
    : values['no-traces'] === true ? [] : listTraces(dir)
  const synthetic = values['no-synthetic'] !== true && (values.trace === undefined || values.synthetic === true)
  const requests = Number(values.requests)
  const seed = Number(values.seed)
  const storeSeed = Number(values['store-seed'])

  const print = values.json ? (row: Row) => console.log(JSON.stringify(row)) : tablePrinter()
  for (const file of files) {
    const { name, trace, distinct } = readTrace(file)
    const listed = references.filter((r) => r.trace === name).map((r) => r.size)
    const rowSizes = sizes ?? unique([0.01, 0.1, ...listed])
    for (const size of rowSizes) print(simulate({ name, trace, distinct }, size, references, storeSeed))
  }
  if (synthetic) {
    for (const make of syntheticWorkloads(requests, seed)) {
      const workload = make()
      for (const size of sizes ?? workload.sizes ?? [0.01, 0.1]) print(simulate(workload, size, references, storeSeed))
    }
  }
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
export function simulate(workload: Workload, size: number, references: readonly ReferenceRow[] = [], storeSeed = 42): Row {
  const { trace, distinct } = workload
  const capacity = Math.max(1, Math.round((workload.sizeBase ?? distinct) * size))
  const keys = keyStrings(distinct)
  const n = trace.length
  const ratio = (hits: number): number => hits / n
  const hitRatio = {
    tiercache: ratio(tinylfuHits(trace, keys, capacity, { seed: storeSeed })),
    tinylfuFixed: ratio(tinylfuHits(trace, keys, capacity, { seed: storeSeed, adaptive: false })),
    lru: ratio(lruHits(trace, keys, capacity)),
    opt: ratio(optHits(trace, capacity, distinct)),
  }
  const reference = references.find((r) => r.trace === workload.name && Math.abs(r.size - size) < 1e-9)?.policies
  const others = Object.entries(reference ?? {}).filter(([policy]) => policy !== 'OPT').map(([, v]) => v / 100)
  const best = Math.max(hitRatio.lru, ...others)
  return {
    trace: workload.name,
    size,
    capacity,
    requests: n,
    distinct,
    hitRatio,
    ...(workload.bound !== undefined ? { bound: workload.bound(capacity) } : {}),
    ...(reference !== undefined ? { reference } : {}),
    best,
    gap: (hitRatio.tiercache - best) * 100,
  }
}

function tablePrinter(): (row: Row) => void {
  let first = true
  return (row) => {
    if (first) {
      first = false
      console.log('| trace | cache | entries | OPT | tiercache | LRU | W-TinyLFU fixed 1% | best reference | tiercache − best | top-C bound |')
      console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    }
    const pct = (x: number): string => (x * 100).toFixed(1)
    const ref = row.reference === undefined ? `LRU ${pct(row.hitRatio.lru)}` : bestName(row)
    console.log(`| ${row.trace} | ${+(row.size * 100).toFixed(2)}% | ${row.capacity} | ${pct(row.hitRatio.opt)} | ${pct(row.hitRatio.tiercache)} | ` +
      `${pct(row.hitRatio.lru)} | ${pct(row.hitRatio.tinylfuFixed)} | ${ref} | ${row.gap >= 0 ? '+' : ''}${row.gap.toFixed(1)}${row.gap < -1 ? ' ✗' : ''} | ` +
      `${row.bound === undefined ? '' : `${pct(row.bound)} (${(row.hitRatio.tiercache / row.bound * 100).toFixed(1)}% of it)`} |`)
  }
}

function bestName(row: Row): string {
  const candidates: [string, number][] = [['LRU', row.hitRatio.lru * 100],
    ...Object.entries(row.reference ?? {}).filter(([p]) => p !== 'OPT' && p !== 'LRU')]
  const [name, value] = candidates.reduce((a, b) => (b[1] > a[1] ? b : a))
  return `${name} ${value.toFixed(1)}`
}

function unique(sizes: number[]): number[] {
  return [...new Set(sizes.map((s) => Math.round(s * 1e6) / 1e6))]
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
