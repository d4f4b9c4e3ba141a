/**
 * Bélády's optimal policy (MIN) with bypass: on a miss with a full cache, drop whichever of the
 * cached keys and the requested key is next requested farthest in the future. No online policy
 * can do better on the same trace, so it is the upper bound the simulator reports.
 *
 * O(n log n): one backward pass for next-use positions, then a max-heap of next-use positions
 * with lazy deletion (a key's heap item is current only while it equals the key's next use).
 */
export function optHits(trace: Int32Array, capacity: number, distinct: number): number {
  const n = trace.length
  if (capacity <= 0) return 0
  // nextUse[i]: index of the next request for trace[i], or n + key when there is none (unique).
  const nextUse = new Float64Array(n)
  const seen = new Float64Array(distinct).fill(-1)
  for (let i = n - 1; i >= 0; i--) {
    const key = trace[i] as number
    const next = seen[key] as number
    nextUse[i] = next < 0 ? n + key : next
    seen[key] = i
  }
  // current[key]: the key's next use while it is cached, -1 when not cached.
  const current = new Float64Array(distinct).fill(-1)
  const heap = new MaxHeap(Math.min(n, 1 << 20))
  let size = 0
  let hits = 0
  const keyOf = (position: number): number => (position >= n ? position - n : (trace[position] as number))
  for (let i = 0; i < n; i++) {
    const key = trace[i] as number
    const next = nextUse[i] as number
    if (current[key] as number >= 0) {
      hits++
      current[key] = next
      heap.push(next)
      continue
    }
    if (size < capacity) {
      current[key] = next
      heap.push(next)
      size++
      continue
    }
    // Full: find the farthest valid next use among the cached keys.
    let top = heap.peek()
    while (current[keyOf(top)] !== top) {
      heap.pop()
      top = heap.peek()
    }
    if (top > next) {
      heap.pop()
      current[keyOf(top)] = -1
      current[key] = next
      heap.push(next)
    }
    // else: bypass, the requested key is the one used farthest away.
  }
  return hits
}

class MaxHeap {
  #items: Float64Array
  #size = 0

  constructor(initial: number) {
    this.#items = new Float64Array(Math.max(16, initial))
  }

  peek(): number {
    return this.#items[0] as number
  }

  push(value: number): void {
    if (this.#size === this.#items.length) {
      const items = new Float64Array(this.#items.length * 2)
      items.set(this.#items)
      this.#items = items
    }
    const items = this.#items
    let i = this.#size++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((items[parent] as number) >= value) break
      items[i] = items[parent] as number
      i = parent
    }
    items[i] = value
  }

  pop(): void {
    const items = this.#items
    const last = items[--this.#size] as number
    const n = this.#size
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && (items[child + 1] as number) > (items[child] as number)) child++
      if ((items[child] as number) <= last) break
      items[i] = items[child] as number
      i = child
    }
    items[i] = last
  }
}
