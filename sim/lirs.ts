import type { PolicyResult, Requests } from './id-lists.js'
import { IdLists } from './id-lists.js'

const NONE = 0
const LIR = 1
const HIR_RESIDENT = 2
const HIR_NON_RESIDENT = 3
/** Share of the cache for resident HIR entries (the paper's 1%; Caffeine's `percent-hot` 0.99). */
const HIR_SHARE = 0.01
/** Non-resident HIR entries kept in the stack, as a multiple of the cache (Caffeine's default 2.0). */
export const NON_RESIDENT_MULTIPLIER = 2

/**
 * LIRS (Jiang & Zhang, "LIRS: An Efficient Low Inter-reference Recency Set Replacement Policy",
 * SIGMETRICS 2002, §3). Entries with a low inter-reference recency (LIR, 99% of the cache) are
 * kept; the other 1% holds resident HIR entries, in a FIFO queue Q. A stack S orders recent keys
 * (LIR, resident HIR and non-resident HIR) by recency; its bottom is always a LIR entry
 * ("pruning" removes HIR entries from the bottom).
 *
 * - Hit on LIR: move to the top of S (prune if it was the bottom).
 * - Hit on resident HIR: if it is in S it becomes LIR (its reuse distance is shorter than the
 *   oldest LIR's) and the bottom LIR of S becomes resident HIR at the end of Q; else it goes to the
 *   top of S and the end of Q.
 * - Miss: with the cache full, the front of Q is evicted (it stays in S as non-resident HIR if it
 *   was there). A key found in S as non-resident becomes LIR (and the bottom LIR is demoted, as
 *   above); any other key becomes resident HIR at the top of S and the end of Q. While fewer than
 *   99% of the entries are LIR (warm-up), new keys become LIR directly.
 *
 * The paper leaves S unbounded; like Caffeine's simulator, this one keeps at most 2× the cache
 * size of non-resident entries in S by default, forgetting the oldest first (a cache cannot keep
 * metadata for every key it ever saw). `nonResidentLimit` = Infinity is the paper's setting
 * ({@link lirsUnboundedPolicy}). Unit sizes only (the paper's setting): the simulator does not run
 * it on sized traces.
 */
export function lirsPolicy({ trace, distinct }: Requests, capacity: number, nonResidentLimit = NON_RESIDENT_MULTIPLIER): PolicyResult {
  const stack = new IdLists(distinct, 1)
  // List 0: Q, the resident HIR entries (front = cold end). List 1: non-resident entries, oldest first.
  const queues = new IdLists(distinct, 2)
  const state = new Uint8Array(distinct)
  const hirMax = Math.max(1, Math.round(HIR_SHARE * capacity))
  const lirMax = Math.max(0, capacity - hirMax)
  const nonResidentMax = nonResidentLimit * capacity
  let lirs = 0
  let residents = 0
  let nonResidents = 0

  const forget = (key: number): void => {
    queues.remove(key)
    state[key] = NONE
    nonResidents--
  }
  /** Removes HIR entries from the bottom of S until a LIR entry is there. */
  const prune = (): void => {
    for (let key = stack.cold(0); key !== -1 && state[key] !== LIR; key = stack.cold(0)) {
      stack.remove(key)
      if (state[key] === HIR_NON_RESIDENT) forget(key)
    }
  }
  /** Over the LIR budget: the bottom LIR entry of S becomes resident HIR at the end of Q. */
  const demote = (): void => {
    while (lirs > lirMax) {
      // The bottom is LIR unless there was none before this one (a cache of one entry: no LIR
      // budget at all), when HIR entries may lie below it.
      prune()
      const key = stack.cold(0)
      stack.remove(key)
      state[key] = HIR_RESIDENT
      queues.pushHot(0, key)
      lirs--
      prune()
    }
  }

  let hits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    const s = state[key] as number
    if (s === LIR) {
      hits++
      const bottom = stack.cold(0) === key
      stack.moveHot(0, key)
      if (bottom) prune()
      continue
    }
    if (s === HIR_RESIDENT) {
      hits++
      if (stack.list[key] === 0) {
        stack.moveHot(0, key)
        queues.remove(key)
        state[key] = LIR
        lirs++
        demote()
      } else {
        stack.pushHot(0, key)
        queues.moveHot(0, key)
      }
      continue
    }
    if (residents >= capacity) {
      const victim = queues.cold(0)
      queues.remove(victim)
      residents--
      if (stack.list[victim] === 0) {
        state[victim] = HIR_NON_RESIDENT
        queues.pushHot(1, victim)
        nonResidents++
      } else {
        state[victim] = NONE
      }
    }
    residents++
    if (lirs < lirMax) {
      // Warm-up: the first entries fill the LIR set.
      if (state[key] === HIR_NON_RESIDENT) forget(key)
      if (stack.list[key] === 0) stack.moveHot(0, key)
      else stack.pushHot(0, key)
      state[key] = LIR
      lirs++
    } else if (state[key] === HIR_NON_RESIDENT) {
      forget(key)
      stack.moveHot(0, key)
      state[key] = LIR
      lirs++
      demote()
    } else {
      state[key] = HIR_RESIDENT
      stack.pushHot(0, key)
      queues.pushHot(0, key)
    }
    while (nonResidents > nonResidentMax) {
      const old = queues.cold(1)
      stack.remove(old)
      forget(old)
    }
  }
  return { hits, byteHits: hits }
}

/** LIRS with the stack S unbounded, as in the paper: metadata for every key still in S. */
export function lirsUnboundedPolicy(requests: Requests, capacity: number): PolicyResult {
  return lirsPolicy(requests, capacity, Infinity)
}
