import type { PolicyResult, Requests } from './id-lists.js'
import { IdLists } from './id-lists.js'

/**
 * SIEVE (Zhang et al., "SIEVE is Simpler than LRU", NSDI 2024, Algorithm 1). One FIFO queue, a
 * visited bit per entry and a *hand*. A hit only sets the bit (no move). On a miss with a full
 * cache the hand walks from where it stopped toward the newer end (wrapping to the oldest),
 * clearing set bits, and evicts the first entry whose bit is clear; the hand stays at the entry
 * that followed the evicted one. New entries go to the newest end, behind the hand's path, so a
 * newcomer must survive a whole sweep to be kept: "lazy promotion, quick demotion".
 * Size-aware: evicts until the new object fits; an object larger than the cache is not stored.
 */
export function sievePolicy({ trace, distinct, objectSizes: sizes }: Requests, capacity: number): PolicyResult {
  const queue = new IdLists(distinct, 1)
  const visited = new Uint8Array(distinct)
  let hand = -1
  let used = 0
  let hits = 0
  let byteHits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    const size = sizes === undefined ? 1 : (sizes[key] as number)
    if (queue.list[key] === 0) {
      hits++
      byteHits += size
      visited[key] = 1
      continue
    }
    if (size > capacity) continue
    while (used + size > capacity) {
      let slot = hand === -1 ? queue.cold(0) : hand
      while (visited[slot] === 1) {
        visited[slot] = 0
        slot = queue.newer(slot)
        if (slot === -1) slot = queue.cold(0)
      }
      hand = queue.newer(slot)
      queue.remove(slot)
      used -= sizes === undefined ? 1 : (sizes[slot] as number)
    }
    queue.pushHot(0, key)
    visited[key] = 0
    used += size
  }
  return { hits, byteHits }
}
