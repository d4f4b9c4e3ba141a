import type { PolicyResult, Requests } from './id-lists.js'

/**
 * GreedyDual-Size-Frequency (Cherkasova, "Improving WWW Proxies Performance with Greedy-Dual-Size-
 * Frequency Caching Policy", HP Labs HPL-98-69R1, 1998), with cost 1 per object (the variant that
 * targets the object hit ratio). Each cached object has priority H = L + frequency / size, where
 * frequency counts its requests since it entered the cache and L is the "inflation" value: the
 * priority of the last evicted object, so long-idle entries age out. A miss evicts the lowest
 * priorities until the object fits (an object larger than the cache is not stored); a hit adds
 * one to the frequency and recomputes H with the current L. Priority ties go to the older entry.
 * An indexed binary min-heap keeps the priorities: O(log n) per request.
 */
export function gdsfPolicy({ trace, distinct, objectSizes: sizes }: Requests, capacity: number): PolicyResult {
  const heap = new Int32Array(distinct)
  const position = new Int32Array(distinct).fill(-1)
  const priority = new Float64Array(distinct)
  const stamp = new Float64Array(distinct)
  const frequency = new Uint32Array(distinct)
  let length = 0
  let inflation = 0
  let used = 0
  let clock = 0
  const sizeOf = (key: number): number => (sizes === undefined ? 1 : (sizes[key] as number))
  const less = (a: number, b: number): boolean =>
    (priority[a] as number) < (priority[b] as number) || (priority[a] === priority[b] && (stamp[a] as number) < (stamp[b] as number))
  const place = (key: number, i: number): void => {
    heap[i] = key
    position[key] = i
  }
  const up = (i: number): void => {
    const key = heap[i] as number
    while (i > 0) {
      const parent = (i - 1) >> 1
      const other = heap[parent] as number
      if (!less(key, other)) break
      place(other, i)
      i = parent
    }
    place(key, i)
  }
  const down = (i: number): void => {
    const key = heap[i] as number
    for (;;) {
      let child = 2 * i + 1
      if (child >= length) break
      if (child + 1 < length && less(heap[child + 1] as number, heap[child] as number)) child++
      const other = heap[child] as number
      if (!less(other, key)) break
      place(other, i)
      i = child
    }
    place(key, i)
  }

  let hits = 0
  let byteHits = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    const size = sizeOf(key)
    clock++
    if ((position[key] as number) >= 0) {
      hits++
      byteHits += size
      frequency[key]!++
      priority[key] = inflation + (frequency[key] as number) / size
      stamp[key] = clock
      down(position[key] as number)
      continue
    }
    if (size > capacity) continue
    while (used + size > capacity) {
      const victim = heap[0] as number
      inflation = priority[victim] as number
      position[victim] = -1
      used -= sizeOf(victim)
      length--
      if (length > 0) {
        place(heap[length] as number, 0)
        down(0)
      }
    }
    frequency[key] = 1
    priority[key] = inflation + 1 / size
    stamp[key] = clock
    place(key, length++)
    up(length - 1)
    used += size
  }
  return { hits, byteHits }
}
