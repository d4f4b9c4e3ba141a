import type { PolicyResult, Requests } from './id-lists.js'
import { IdLists } from './id-lists.js'

const T1 = 0
const T2 = 1
const B1 = 2
const B2 = 3

/**
 * ARC (Megiddo & Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 2003, Fig. 4).
 * Resident lists T1 (seen once lately) and T2 (seen at least twice), ghost lists B1 and B2 of keys
 * recently evicted from each, and a target p for T1's size.
 *
 * - Hit in T1 or T2: move to the MRU end of T2.
 * - Miss found in B1: p grows by max(|B2|/|B1|, 1); REPLACE; the key enters T2.
 *   Found in B2: p shrinks by max(|B1|/|B2|, 1); REPLACE; the key enters T2.
 * - Miss elsewhere (case IV): while |T1| + |B1| would exceed c, drop B1's LRU key, or when B1 is
 *   empty evict T1's LRU entry outright (no ghost); while the four lists would exceed 2c, drop
 *   B2's LRU key; REPLACE while the cache is full; the key enters T1.
 * - REPLACE: if T1 is non-empty and (|T1| > p, or the key was in B2 and |T1| ≥ p) move T1's LRU
 *   entry to B1, else T2's LRU entry to B2.
 *
 * With unit sizes these are exactly the paper's cases (its "= c" tests become "would exceed c").
 * Size-aware in the usual way: |X| are bytes, p moves by the ratio times the object's size, and
 * REPLACE repeats until the new object fits; an object larger than the cache is not stored.
 */
export function arcPolicy({ trace, distinct, objectSizes: sizes }: Requests, capacity: number): PolicyResult {
  const lists = new IdLists(distinct, 4)
  const list = lists.list
  const bytes = new Float64Array(4)
  const c = capacity
  let p = 0
  const sizeOf = (key: number): number => (sizes === undefined ? 1 : (sizes[key] as number))
  const move = (key: number, to: number): void => {
    const size = sizeOf(key)
    bytes[list[key] as number]! -= size
    lists.moveHot(to, key)
    bytes[to]! += size
  }
  const drop = (key: number): void => {
    bytes[list[key] as number]! -= sizeOf(key)
    lists.remove(key)
  }
  const replace = (inB2: boolean): void => {
    const t1 = bytes[T1] as number
    if (t1 > 0 && (t1 > p || (inB2 && t1 >= p) || bytes[T2] === 0)) move(lists.cold(T1), B1)
    else move(lists.cold(T2), B2)
  }

  let hits = 0
  let byteHits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    const size = sizeOf(key)
    const where = list[key] as number
    if (where === T1 || where === T2) {
      hits++
      byteHits += size
      move(key, T2)
      continue
    }
    if (size > c) continue
    if (where === B1 || where === B2) {
      const b1 = bytes[B1] as number
      const b2 = bytes[B2] as number
      if (where === B1) p = Math.min(c, p + Math.max(b2 / b1, 1) * size)
      else p = Math.max(0, p - Math.max(b1 / b2, 1) * size)
      drop(key)
      while ((bytes[T1] as number) + (bytes[T2] as number) + size > c) replace(where === B2)
      lists.pushHot(T2, key)
      bytes[T2]! += size
      continue
    }
    while ((bytes[T1] as number) + (bytes[B1] as number) + size > c) {
      const ghost = lists.cold(B1)
      if (ghost !== -1) drop(ghost)
      else drop(lists.cold(T1))
    }
    while ((bytes[T1] as number) + (bytes[T2] as number) + (bytes[B1] as number) + (bytes[B2] as number) + size > 2 * c) {
      drop(lists.cold(B2))
    }
    while ((bytes[T1] as number) + (bytes[T2] as number) + size > c) replace(false)
    lists.pushHot(T1, key)
    bytes[T1]! += size
  }
  return { hits, byteHits }
}
