import type { MeasuredFigures } from './measured.js'
import { MEASURED } from './measured.js'
import type { PlanInput } from './capacity-plan.js'
import { PlanInputError } from './capacity-plan.js'

/** The raw options of `tiercache plan`. */
export interface PlanOptionValues {
  rps?: string | undefined
  'hit-ratio'?: string | undefined
  zipf?: string | undefined
  'cache-items'?: string | undefined
  items?: string | undefined
  'item-bytes'?: string | undefined
  'write-rate'?: string | undefined
  'key-bytes'?: string | undefined
  'l1-mb'?: string | undefined
  'edge-hit-ratio'?: string | undefined
  'redis-shard-gb'?: string | undefined
  'edge-rps-per-core'?: string | undefined
  'app-rps-per-core'?: string | undefined
  'redis-ops-per-core'?: string | undefined
}

const MULTIPLIER: Record<string, number> = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 }

/** `1000000`, `1M`, `2.5k`: a count, decimal suffixes. */
function count(flag: string, raw: string, min: number): number {
  const match = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(raw)
  const value = match === null ? NaN : Number(match[1]) * MULTIPLIER[match[2]!]!
  if (!(value >= min) || !Number.isFinite(value)) throw new PlanInputError(`${flag} must be a number of at least ${min} (suffixes k, M, G allowed), got ${JSON.stringify(raw)}`)
  return value
}

/** `1024`, `1KB` (1000), `1KiB` (1024), `4MB`. */
function bytes(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/.exec(raw)
  const unit = match?.[2] ?? 'B'
  const scale: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
  const value = match === null ? NaN : Math.round(Number(match[1]) * scale[unit]!)
  if (!(value >= 1)) throw new PlanInputError(`${flag} must be a size such as 1024, 1KB or 1KiB, got ${JSON.stringify(raw)}`)
  return value
}

/** `0.95` or `95%`. */
function ratio(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(raw)
  const value = match === null ? NaN : Number(match[1]) / (match[2] === '%' ? 100 : 1)
  if (!(value >= 0 && value <= 1)) throw new PlanInputError(`${flag} must be a share from 0 to 1 (or 0% to 100%), got ${JSON.stringify(raw)}`)
  return value
}

function positive(flag: string, raw: string, max: number): number {
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN
  if (!(value > 0 && value <= max)) throw new PlanInputError(`${flag} must be a number above 0 and at most ${max}, got ${JSON.stringify(raw)}`)
  return value
}

/** Checks the options and builds the input and the per-core figures (measured defaults, or the ones given). */
export function parsePlanOptions(v: PlanOptionValues): { input: PlanInput; measured: MeasuredFigures } {
  if (v.rps === undefined) throw new PlanInputError('--rps is required: the requests per second to size for')
  if (v.items === undefined) throw new PlanInputError('--items is required: how many distinct items (products, pages) there are')
  if (v['hit-ratio'] !== undefined && (v.zipf !== undefined || v['cache-items'] !== undefined)) {
    throw new PlanInputError('give either --hit-ratio or --zipf with --cache-items, not both')
  }
  if (v['hit-ratio'] === undefined && (v.zipf === undefined || v['cache-items'] === undefined)) {
    throw new PlanInputError('give --hit-ratio, or --zipf with --cache-items (the hit ratio of an ideal LFU is then computed)')
  }
  const input: PlanInput = {
    rps: count('--rps', v.rps, 1),
    items: Math.round(count('--items', v.items, 1)),
    itemBytes: v['item-bytes'] === undefined ? 1024 : bytes('--item-bytes', v['item-bytes']),
    writeRate: v['write-rate'] === undefined ? 0 : count('--write-rate', v['write-rate'], 0),
    hitRatio: v['hit-ratio'] === undefined ? undefined : ratio('--hit-ratio', v['hit-ratio']),
    zipf: v.zipf === undefined ? undefined : positive('--zipf', v.zipf, 5),
    cacheItems: v['cache-items'] === undefined ? undefined : Math.round(count('--cache-items', v['cache-items'], 0)),
    l1Bytes: (v['l1-mb'] === undefined ? 64 : positive('--l1-mb', v['l1-mb'], 1_000_000)) * 1024 * 1024,
    keyBytes: v['key-bytes'] === undefined ? 24 : bytes('--key-bytes', v['key-bytes']),
    edgeHitRatio: v['edge-hit-ratio'] === undefined ? 0 : ratio('--edge-hit-ratio', v['edge-hit-ratio']),
    redisShardBytes: (v['redis-shard-gb'] === undefined ? 25 : positive('--redis-shard-gb', v['redis-shard-gb'], 100_000)) * 1024 ** 3,
  }
  const measured: MeasuredFigures = {
    ...MEASURED,
    ...(v['edge-rps-per-core'] === undefined ? {} : { edgeRequestsPerCore: count('--edge-rps-per-core', v['edge-rps-per-core'], 1) }),
    ...(v['app-rps-per-core'] === undefined ? {} : { appRequestsPerCore: count('--app-rps-per-core', v['app-rps-per-core'], 1) }),
    ...(v['redis-ops-per-core'] === undefined ? {} : { redisReadsPerCore: count('--redis-ops-per-core', v['redis-ops-per-core'], 1) }),
  }
  return { input, measured }
}
