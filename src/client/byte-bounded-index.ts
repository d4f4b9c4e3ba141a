/** What the service worker knows of one stored response, without reading it. */
export interface IndexedEntry {
  /** The request URL: the Cache Storage key. */
  readonly url: string
  /** Body bytes (Content-Length, or the body measured when there is none). */
  readonly bytes: number
  /** When it was stored, epoch ms. */
  readonly storedAt: number
  /** When it stops being served, epoch ms. */
  readonly expiresAt: number
  /** Its `Surrogate-Key` tags. */
  readonly tags: readonly string[]
}

/** What {@link ByteBoundedIndex.admit} decided. */
export interface Admission {
  /** False when the entry alone is larger than the bound: it must not be stored. */
  readonly admitted: boolean
  /** Entries to delete from storage, least recently used first, so that the total stays within the bound. */
  readonly evicted: readonly IndexedEntry[]
}

/**
 * The bookkeeping of a byte-bounded cache: entries in least-recently-used order (a `Map` keeps
 * insertion order; a use re-inserts), their total size, and which to evict when a new entry would
 * take the total over `maxBytes`. It decides; the caller deletes and stores. Pure: it touches no
 * storage and reads no clock (times are passed in), so the service worker and the unit tests run
 * the same code.
 */
export class ByteBoundedIndex {
  readonly maxBytes: number
  readonly #entries = new Map<string, IndexedEntry>()
  #bytes = 0

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new RangeError(`maxBytes must be a positive integer, got ${String(maxBytes)}`)
    this.maxBytes = maxBytes
  }

  /** Total bytes of the entries indexed. */
  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#entries.size
  }

  get(url: string): IndexedEntry | undefined {
    return this.#entries.get(url)
  }

  /**
   * Records `entry` as the most recently used (replacing an entry of the same URL) and answers which
   * entries to evict, least recently used first. An entry larger than the whole bound is refused
   * and changes nothing (an older entry of its URL stays indexed: the caller keeps serving it or
   * removes it).
   */
  admit(entry: IndexedEntry): Admission {
    if (!Number.isSafeInteger(entry.bytes) || entry.bytes < 0) throw new RangeError(`bytes must be a non-negative integer, got ${String(entry.bytes)}`)
    if (entry.bytes > this.maxBytes) return { admitted: false, evicted: [] }
    this.remove(entry.url)
    const evicted: IndexedEntry[] = []
    let kept = this.#bytes
    for (const oldest of this.#entries.values()) {
      if (kept + entry.bytes <= this.maxBytes) break
      evicted.push(oldest)
      kept -= oldest.bytes
    }
    for (const gone of evicted) this.remove(gone.url)
    this.#entries.set(entry.url, entry)
    this.#bytes += entry.bytes
    return { admitted: true, evicted }
  }

  /** Marks `url` as just used: it is evicted last. */
  touch(url: string): void {
    const entry = this.#entries.get(url)
    if (entry === undefined) return
    this.#entries.delete(url)
    this.#entries.set(url, entry)
  }

  remove(url: string): IndexedEntry | undefined {
    const entry = this.#entries.get(url)
    if (entry === undefined) return undefined
    this.#entries.delete(url)
    this.#bytes -= entry.bytes
    return entry
  }

  /** Entries whose `expiresAt` is at or before `now` (still indexed: the caller removes them). */
  expired(now: number): IndexedEntry[] {
    const out: IndexedEntry[] = []
    for (const entry of this.#entries.values()) if (entry.expiresAt <= now) out.push(entry)
    return out
  }

  /** Every entry, least recently used first. */
  entries(): IterableIterator<IndexedEntry> {
    return this.#entries.values()
  }
}
