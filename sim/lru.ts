import type { PolicyResult, Requests } from './id-lists.js'
import { IdLists } from './id-lists.js'

/**
 * LRU over key ids, size-aware: on a miss, evict the least recently used entries until the new
 * one fits; an object larger than the whole cache is not stored. With unit sizes it makes the same
 * decisions as `lru-cache` with `max` (a unit test replays both on random streams).
 */
export function lruPolicy({ trace, distinct, objectSizes: sizes }: Requests, capacity: number): PolicyResult {
  const lists = new IdLists(distinct, 1)
  let used = 0
  let hits = 0
  let byteHits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    const size = sizes === undefined ? 1 : (sizes[key] as number)
    if (lists.list[key] === 0) {
      hits++
      byteHits += size
      lists.moveHot(0, key)
      continue
    }
    if (size > capacity) continue
    while (used + size > capacity) {
      const victim = lists.cold(0)
      lists.remove(victim)
      used -= sizes === undefined ? 1 : (sizes[victim] as number)
    }
    lists.pushHot(0, key)
    used += size
  }
  return { hits, byteHits }
}
