import type { Clock } from '../ports/clock.js'
import type { Coherence } from './coherence.js'
import type { L1Tier } from './l1-tier.js'
import { FRESH, UNKNOWN } from './l1-tier.js'
import type { ReadRecorder } from './read-recorder.js'
import type { SharedTier } from './shared-tier.js'
import type { TagCheck } from './tag-check.js'

/** The tier objects `getMany` reads. */
export interface ReadManyTiers {
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly tags: TagCheck
  readonly coherence: Coherence
  readonly recorder: ReadRecorder
  readonly clock: Clock
}

/**
 * `getMany` once its keys are validated: L1 first, then one L2 round trip for the rest (one per
 * node on a Cluster). Answers in order, with `undefined` for each miss (a dense array: no holes).
 */
export async function readMany<T>(t: ReadManyTiers, keys: readonly string[]): Promise<(T | undefined)[]> {
  const out = new Array<T | undefined>(keys.length).fill(undefined)
  const missing: number[] = []
  const now = t.clock.now()
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    const entry = t.l1.store?.get(key)
    if (entry !== undefined) {
      const freshness = t.l1.check(entry, now)
      if (freshness === FRESH || (freshness === UNKNOWN && (await t.tags.isCurrent(entry)))) {
        t.recorder.l1Hit(key)
        out[i] = t.l1.value(entry) as T
        continue
      }
    }
    if (t.l1.store !== undefined) t.recorder.l1Miss()
    missing.push(i)
  }
  const shared = t.shared
  if (missing.length === 0) return out
  const missingKeys = missing.map((i) => keys[i] as string)
  if (shared === undefined) {
    for (const key of missingKeys) t.recorder.miss(key)
    return out
  }
  const stamps = missingKeys.map((key) => t.l1.stamp(key))
  const entries = await shared.call((store) => store.getMany(missingKeys), undefined)
  const after = t.clock.now()
  for (let j = 0; j < missing.length; j++) {
    const key = missingKeys[j] as string
    const entry = entries?.[j]
    if (entry !== undefined && entry.freshUntil > after && !t.coherence.isPending(key) && (await t.tags.isCurrent(entry))) {
      t.recorder.l2Hit(key)
      t.l1.fill(key, entry, stamps[j] as number)
      out[missing[j] as number] = entry.value as T
    } else {
      if (entries !== undefined) t.recorder.l2Miss()
      t.recorder.miss(key)
    }
  }
  return out
}
