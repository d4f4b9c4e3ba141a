/**
 * Intrusive doubly linked lists over dense key ids, for the reference policies: node `i < size`
 * is key `i`, and each list has a sentinel node after the keys. A key is in at most one list of an
 * instance at a time (a policy that needs a key in two lists at once, like LIRS, uses two
 * instances). Typed arrays, no allocation per request: the policies run millions of requests.
 *
 * Orientation: the *cold* end (oldest, next to evict) is the sentinel's `next`, the *hot* end
 * (newest) its `prev`.
 */
export class IdLists {
  readonly #next: Int32Array
  readonly #prev: Int32Array
  readonly #keys: number
  /** Per key: which list it is in, or -1. */
  readonly list: Int8Array

  constructor(keys: number, lists: number) {
    this.#keys = keys
    this.#next = new Int32Array(keys + lists)
    this.#prev = new Int32Array(keys + lists)
    this.list = new Int8Array(keys).fill(-1)
    for (let l = 0; l < lists; l++) {
      this.#next[keys + l] = keys + l
      this.#prev[keys + l] = keys + l
    }
  }

  /** The oldest key of a list, or -1 when it is empty. */
  cold(list: number): number {
    const node = this.#next[this.#keys + list] as number
    return node >= this.#keys ? -1 : node
  }

  /** The newest key of a list, or -1 when it is empty. */
  hot(list: number): number {
    const node = this.#prev[this.#keys + list] as number
    return node >= this.#keys ? -1 : node
  }

  /** The key after `key` toward the hot end, or -1 at the end. */
  newer(key: number): number {
    const node = this.#next[key] as number
    return node >= this.#keys ? -1 : node
  }

  /** The key before `key` toward the cold end, or -1 at the end. */
  older(key: number): number {
    const node = this.#prev[key] as number
    return node >= this.#keys ? -1 : node
  }

  /** Appends a key (in no list) at the hot end of `list`. */
  pushHot(list: number, key: number): void {
    const sentinel = this.#keys + list
    const last = this.#prev[sentinel] as number
    this.#next[last] = key
    this.#prev[key] = last
    this.#next[key] = sentinel
    this.#prev[sentinel] = key
    this.list[key] = list
  }

  /** Takes a key out of its list. */
  remove(key: number): void {
    const prev = this.#prev[key] as number
    const next = this.#next[key] as number
    this.#next[prev] = next
    this.#prev[next] = prev
    this.list[key] = -1
  }

  /** Moves a key (in a list) to the hot end of `list`. */
  moveHot(list: number, key: number): void {
    this.remove(key)
    this.pushHot(list, key)
  }
}

/** What a reference policy reports: requests that hit, and the bytes they hit. */
export interface PolicyResult {
  readonly hits: number
  readonly byteHits: number
}

/**
 * A request stream for the reference policies: dense key ids, and for sized traces the size of
 * each key (its first request's size; undefined for unit-size traces, where every key weighs 1).
 */
export interface Requests {
  readonly trace: Int32Array
  readonly distinct: number
  readonly objectSizes?: Uint32Array | undefined
}

/** A reference policy run: the whole stream through one cache of `capacity` weight units. */
export type ReferencePolicy = (requests: Requests, capacity: number) => PolicyResult
