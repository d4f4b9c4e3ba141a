import type { PolicyResult, Requests } from './id-lists.js'
import { IdLists } from './id-lists.js'

const SMALL = 0
const MAIN = 1
const GHOST = 2
/** The small FIFO's share of the cache (the paper's default, 10%). */
const SMALL_SHARE = 0.1
/** The ghost queue remembers as many keys (bytes, when sized) as the main FIFO holds (90%). */
const GHOST_SHARE = 0.9
/** Frequencies are 2-bit counters. */
const MAX_FREQUENCY = 3

/**
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023, Algorithm 1):
 * a small FIFO S (10% of the cache), a main FIFO M (90%) and a ghost FIFO G of keys only.
 *
 * - A hit adds one to the entry's 2-bit frequency (capped at 3); nothing moves.
 * - A miss inserts the key into M if G remembers it (it was evicted from S recently), else into S,
 *   with frequency 0; first, while the new entry does not fit, evict: from S if S holds at least
 *   10% of the cache, else from M.
 * - Evicting from S takes its oldest entry: if it was hit while in S it moves to M with its
 *   frequency reset to 0, and S continues with its next entry; otherwise it goes to G and the
 *   eviction is done. A move into a full M evicts from M. (This is the authors' description of the
 *   promotion, "reused since insertion ... promoted to the main queue with the access bit reset";
 *   a stricter reading, "accessed more than once", keeping the count, measured up to 2.2 points
 *   lower on cache2k_orm-busy at 1%: docs/l1.md.)
 * - Evicting from M takes its oldest entry: with frequency > 0 it is reinserted at the newest end
 *   with frequency − 1, else it is evicted.
 *
 * G is bounded like M (90% of the cache, in keys or bytes); its oldest keys are forgotten first.
 * Size-aware: sizes in bytes everywhere; an object larger than the cache is not stored.
 */
export function s3fifoPolicy({ trace, distinct, objectSizes: sizes }: Requests, capacity: number): PolicyResult {
  const lists = new IdLists(distinct, 3)
  const list = lists.list
  const frequency = new Uint8Array(distinct)
  const smallMax = SMALL_SHARE * capacity
  const mainMax = capacity - smallMax
  const ghostMax = GHOST_SHARE * capacity
  let small = 0
  let main = 0
  let ghost = 0
  const sizeOf = (key: number): number => (sizes === undefined ? 1 : (sizes[key] as number))

  const evictMain = (): void => {
    for (;;) {
      const key = lists.cold(MAIN)
      if (key === -1) return
      if ((frequency[key] as number) > 0) {
        frequency[key]!--
        lists.moveHot(MAIN, key)
      } else {
        lists.remove(key)
        main -= sizeOf(key)
        return
      }
    }
  }
  const remember = (key: number): void => {
    const size = sizeOf(key)
    if (size > ghostMax) return
    while (ghost + size > ghostMax) {
      const old = lists.cold(GHOST)
      lists.remove(old)
      ghost -= sizeOf(old)
    }
    lists.pushHot(GHOST, key)
    ghost += size
  }
  const evictSmall = (): void => {
    for (;;) {
      const key = lists.cold(SMALL)
      if (key === -1) return
      const size = sizeOf(key)
      lists.remove(key)
      small -= size
      if ((frequency[key] as number) > 0) {
        frequency[key] = 0
        lists.pushHot(MAIN, key)
        main += size
        while (main > mainMax) evictMain()
      } else {
        remember(key)
        return
      }
    }
  }

  let hits = 0
  let byteHits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    const size = sizeOf(key)
    const where = list[key] as number
    if (where === SMALL || where === MAIN) {
      hits++
      byteHits += size
      if ((frequency[key] as number) < MAX_FREQUENCY) frequency[key]!++
      continue
    }
    if (size > capacity) continue
    // Out of the ghost first: evicting from S below may push keys into it.
    if (where === GHOST) {
      lists.remove(key)
      ghost -= size
    }
    while (small + main + size > capacity) {
      if (small >= smallMax || main === 0) evictSmall()
      else evictMain()
    }
    frequency[key] = 0
    if (where === GHOST) {
      lists.pushHot(MAIN, key)
      main += size
    } else {
      lists.pushHot(SMALL, key)
      small += size
    }
  }
  return { hits, byteHits }
}
