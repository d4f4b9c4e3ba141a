import type { MeasuredFigures } from './measured.js'
import { idealLfuHitRatio } from './zipf-hit-ratio.js'

/** A traffic profile to size for. */
export interface PlanInput {
  /** Requests per second arriving at the edge, writes included. */
  readonly rps: number
  /** Distinct items (products, pages). */
  readonly items: number
  /** Bytes of one item's cached value (its JSON). */
  readonly itemBytes: number
  /** Writes per second (each one database statement and one invalidation). */
  readonly writeRate: number
  /**
   * The share of reads answered without the database. Given, or computed from `zipf` and
   * `cacheItems` (an ideal LFU's hit ratio: an upper bound).
   */
  readonly hitRatio?: number | undefined
  readonly zipf?: number | undefined
  /** Items Redis holds (default: all of them). */
  readonly cacheItems?: number | undefined
  /** L1 budget per app process, bytes (tiercache's default is 64 MiB). */
  readonly l1Bytes: number
  /** Bytes of a key (`catalog:product:123456` ≈ 24). */
  readonly keyBytes: number
  /** Share of reads the edge answers (0: size the app fleet as if every read reached it). */
  readonly edgeHitRatio: number
  /** Memory one Redis shard may use, bytes. */
  readonly redisShardBytes: number
}

/** One computed figure, with the formula that produced it (numbers filled in). */
export interface PlanFigure {
  readonly value: number
  readonly unit: string
  readonly formula: string
}

export interface Plan {
  readonly hitRatio: PlanFigure & { readonly upperBound: boolean }
  readonly reads: PlanFigure
  readonly originMisses: PlanFigure
  readonly databaseQueries: PlanFigure
  readonly l1EntriesPerProcess: PlanFigure
  readonly l1BytesPerProcess: PlanFigure
  /** Share of an app process's reads L1 answers: computed from the Zipf skew (an upper bound), else 0 (not modelled). */
  readonly l1HitRatio: PlanFigure
  readonly redisEntries: PlanFigure
  readonly redisBytes: PlanFigure
  readonly redisEvictions: PlanFigure
  readonly l1Evictions: PlanFigure
  readonly appRequests: PlanFigure
  readonly redisOps: PlanFigure
  readonly edgeCores: PlanFigure
  readonly appCores: PlanFigure
  readonly redisShards: PlanFigure
}

/** Errors in a plan's input (a usage mistake): the message names the option. */
export class PlanInputError extends Error {
  override readonly name = 'PlanInputError'
  readonly code = 'E_PLAN_INPUT'
}

const f = (n: number): string => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumSignificantDigits: 4 }))

/**
 * The capacity model: hit ratio → origin misses → database load; items × size → memory; request
 * rates ÷ measured per-core throughputs → cores and shards. Pure arithmetic: every figure carries
 * its formula with the numbers in it, so a reader can check it by hand.
 */
export function computePlan(input: PlanInput, measured: MeasuredFigures): Plan {
  const { rps, items, itemBytes, writeRate, keyBytes } = input
  if (writeRate > rps) throw new PlanInputError('--write-rate must not exceed --rps (writes are part of the requests)')
  if (input.hitRatio === undefined && (input.zipf === undefined || input.cacheItems === undefined)) {
    throw new PlanInputError('give --hit-ratio, or --zipf with --cache-items (to compute the hit ratio of an ideal LFU)')
  }
  const cacheItems = Math.min(items, input.cacheItems ?? items)
  const upperBound = input.hitRatio === undefined
  const h = input.hitRatio ?? idealLfuHitRatio(cacheItems, items, input.zipf!)
  const hitRatio = {
    value: h, unit: '', upperBound,
    formula: upperBound ? `H(${f(cacheItems)}, ${input.zipf}) / H(${f(items)}, ${input.zipf}) (ideal LFU on Zipf: an upper bound)` : 'given',
  }
  const readsValue = rps - writeRate
  const reads = { value: readsValue, unit: '/s', formula: `rps − writes = ${f(rps)} − ${f(writeRate)}` }
  const missesValue = readsValue * (1 - h)
  const originMisses = { value: missesValue, unit: '/s', formula: `reads × (1 − hit ratio) = ${f(readsValue)} × (1 − ${f(h)})` }
  const databaseQueries = {
    value: missesValue + writeRate, unit: '/s',
    formula: `misses + writes = ${f(missesValue)} + ${f(writeRate)} (each write also invalidates: up to ${f(writeRate)} more misses/s if written items are read again)`,
  }

  const l1EntryBytes = itemBytes + keyBytes + measured.l1OverheadBytes
  const l1Entries = Math.min(items, Math.floor(input.l1Bytes / l1EntryBytes))
  const l1EntriesPerProcess = { value: l1Entries, unit: 'entries', formula: `min(items, L1 budget ÷ (item + key + ${measured.l1OverheadBytes} B measured overhead)) = min(${f(items)}, ${f(input.l1Bytes)} ÷ ${f(l1EntryBytes)})` }
  const l1BytesPerProcess = { value: l1Entries * l1EntryBytes, unit: 'bytes', formula: `${f(l1Entries)} × ${f(l1EntryBytes)} B` }
  const l1Hit = input.zipf === undefined ? 0 : idealLfuHitRatio(l1Entries, items, input.zipf)
  const l1HitRatio = {
    value: l1Hit, unit: '',
    formula: input.zipf === undefined ? 'not modelled without --zipf: 0, every app read goes to Redis (conservative)' : `H(${f(l1Entries)}, ${input.zipf}) / H(${f(items)}, ${input.zipf}) (ideal LFU: an upper bound)`,
  }
  const redisEntryBytes = itemBytes + measured.redisOverheadBytes
  const redisEntries = { value: cacheItems, unit: 'entries', formula: input.cacheItems === undefined ? 'all items' : `min(items, cache items) = min(${f(items)}, ${f(input.cacheItems)})` }
  const redisBytesValue = cacheItems * redisEntryBytes
  const redisBytes = { value: redisBytesValue, unit: 'bytes', formula: `entries × (item + ${measured.redisOverheadBytes} B measured overhead) = ${f(cacheItems)} × ${f(redisEntryBytes)} B` }
  const redisEvictions = cacheItems < items
    ? { value: missesValue, unit: '/s', formula: 'origin misses/s: Redis is full, so every fill evicts one entry' }
    : { value: 0, unit: '/s', formula: 'Redis holds every item: nothing is evicted (expiry and invalidation aside)' }

  const appReads = readsValue * (1 - input.edgeHitRatio)
  const appRequestsValue = appReads + writeRate
  const appRequests = { value: appRequestsValue, unit: '/s', formula: `reads × (1 − edge hit ratio) + writes = ${f(readsValue)} × (1 − ${f(input.edgeHitRatio)}) + ${f(writeRate)}` }
  const l1MissesValue = appReads * (1 - l1Hit)
  const l1Evictions = l1Entries < items
    ? { value: l1MissesValue, unit: '/s (whole fleet)', formula: `app reads × (1 − L1 hit ratio) = ${f(appReads)} × (1 − ${f(l1Hit)}): L1 is full, every fill evicts one${input.zipf === undefined ? ' (at most: L1 hits are not modelled without --zipf)' : ''}` }
    : { value: 0, unit: '/s', formula: 'L1 holds every item: nothing is evicted' }
  const redisOpsValue = l1MissesValue + missesValue + writeRate
  const redisOps = { value: redisOpsValue, unit: '/s', formula: `L1 misses (reads) + origin misses (fills) + writes (invalidations) = ${f(l1MissesValue)} + ${f(missesValue)} + ${f(writeRate)}` }

  const edgeCores = { value: Math.ceil(rps / measured.edgeRequestsPerCore), unit: 'cores', formula: `⌈rps ÷ edge hits per core⌉ = ⌈${f(rps)} ÷ ${f(measured.edgeRequestsPerCore)}⌉ (hit path; misses cost more)` }
  const appCores = { value: Math.ceil(appRequestsValue / measured.appRequestsPerCore), unit: 'cores', formula: `⌈app requests ÷ app requests per core⌉ = ⌈${f(appRequestsValue)} ÷ ${f(measured.appRequestsPerCore)}⌉ (the catalog's measured mix of L1 hits and database reads)` }
  const byOps = Math.ceil(redisOpsValue / measured.redisReadsPerCore)
  const byMemory = Math.ceil(redisBytesValue / input.redisShardBytes)
  const redisShards = {
    value: Math.max(1, byOps, byMemory), unit: 'shards',
    formula: `max(⌈ops ÷ reads per Redis core⌉, ⌈memory ÷ shard memory⌉) = max(⌈${f(redisOpsValue)} ÷ ${f(measured.redisReadsPerCore)}⌉, ⌈${f(redisBytesValue)} ÷ ${f(input.redisShardBytes)}⌉) = max(${byOps}, ${byMemory})`,
  }
  return {
    hitRatio, reads, originMisses, databaseQueries, l1EntriesPerProcess, l1BytesPerProcess, l1HitRatio,
    redisEntries, redisBytes, redisEvictions, l1Evictions, appRequests, redisOps, edgeCores, appCores, redisShards,
  }
}
