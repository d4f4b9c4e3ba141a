import { ByteBoundedIndex } from './byte-bounded-index.js'
import type { IndexedEntry } from './byte-bounded-index.js'
import type { WorkerStats } from './messages.js'
import { TagIndex, parseSurrogateKey } from './tag-index.js'

/** Headers the store adds to what it keeps, so the index can be rebuilt from Cache Storage alone. */
const STORED_AT = 'x-tiercache-stored-at'
const BYTES = 'x-tiercache-bytes'

/** Options of {@link BoundedCacheStorage.open}. */
export interface BoundedCacheOptions {
  /** The Cache Storage cache used. */
  readonly cacheName: string
  /** Bound on the bodies kept, bytes. */
  readonly maxBytes: number
  /** How long an entry is served after it was stored, ms. */
  readonly maxAgeMs: number
  /** Epoch ms; injected for tests. */
  readonly now?: () => number
}

/**
 * One Cache Storage cache kept under a byte bound, with expiry and a tag index. Every entry's
 * size is its Content-Length, or its body measured when there is none; a new entry that would take
 * the total over the bound evicts the least recently used first (deleted before the new one is
 * written, so the cache never holds more than the bound), and an entry larger than the bound is
 * not kept. Expired entries are never served and are deleted when met and on each write.
 *
 * A service worker is stopped and restarted by the browser at will: the index lives in memory and
 * is rebuilt from the stored responses' headers when the worker starts (recency then follows the
 * store time: use order is not persisted).
 */
export class BoundedCacheStorage {
  readonly #cache: Cache
  readonly #options: BoundedCacheOptions
  readonly #now: () => number
  readonly #index: ByteBoundedIndex
  readonly #tags = new TagIndex()
  /** Writes and deletes run one at a time, so the index and the stored bytes never disagree. */
  #queue: Promise<unknown> = Promise.resolve()
  #evictions = 0
  #expirations = 0
  #invalidated = 0
  #refusedTooLarge = 0

  private constructor(cache: Cache, options: BoundedCacheOptions) {
    this.#cache = cache
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#index = new ByteBoundedIndex(options.maxBytes)
  }

  static async open(options: BoundedCacheOptions): Promise<BoundedCacheStorage> {
    const store = new BoundedCacheStorage(await caches.open(options.cacheName), options)
    await store.#rebuild()
    return store
  }

  /** The drop generation to take before a fetch whose response may be stored (see {@link put}). */
  get generation(): number {
    return this.#tags.generation
  }

  /** A fresh stored response for `request`, or undefined (an expired one is deleted). */
  async match(request: Request): Promise<Response | undefined> {
    const entry = this.#index.get(request.url)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.#now()) {
      // Checked again in turn: a fresh copy may have replaced it meanwhile.
      await this.#serial(async () => {
        const current = this.#index.get(request.url)
        if (current !== undefined && current.expiresAt <= this.#now()) await this.#delete([current], 'expired')
      })
      return undefined
    }
    const response = await this.#cache.match(request, { ignoreVary: true })
    if (response === undefined) {
      // Deleted behind the index's back (the user cleared site data): forget it.
      this.#index.remove(entry.url)
      this.#tags.remove(entry.url)
      return undefined
    }
    this.#index.touch(entry.url)
    return response
  }

  /**
   * Stores `response` (consumed) for `request`, unless one of its tags was dropped since the fetch
   * began (`since`: {@link generation} taken then), since it may then be the old version. Answers
   * whether it was stored.
   */
  put(request: Request, response: Response, since: number): Promise<boolean> {
    return this.#serial(async () => {
      const tags = parseSurrogateKey(response.headers.get('surrogate-key'))
      if (!this.#tags.isCurrent(tags, since)) return false
      const declared = Number(response.headers.get('content-length'))
      let body: ArrayBuffer | ReadableStream<Uint8Array> | null = response.body
      let bytes = declared
      if (response.headers.get('content-length') === null || !Number.isSafeInteger(declared) || declared < 0 || response.headers.has('content-encoding')) {
        // No usable length: measure the body (a compressed body's Content-Length is not what is stored).
        body = await response.arrayBuffer()
        bytes = body.byteLength
      }
      await this.#delete(this.#index.expired(this.#now()), 'expired')
      const now = this.#now()
      const entry: IndexedEntry = { url: request.url, bytes, storedAt: now, expiresAt: now + this.#options.maxAgeMs, tags }
      const { admitted, evicted } = this.#index.admit(entry)
      if (!admitted) {
        this.#refusedTooLarge++
        await this.#delete([this.#index.get(request.url)].filter((e) => e !== undefined), 'replaced')
        if (body !== null && !(body instanceof ArrayBuffer)) await body.cancel()
        return false
      }
      this.#evictions += evicted.length
      // Evicted entries are deleted before the new one is written: the cache never holds more than the bound.
      await Promise.all(evicted.map((e) => { this.#tags.remove(e.url); return this.#cache.delete(e.url) }))
      const headers = new Headers(response.headers)
      headers.set(STORED_AT, String(now))
      headers.set(BYTES, String(bytes))
      try {
        await this.#cache.put(request, new Response(body, { status: response.status, statusText: response.statusText, headers }))
      } catch (error) {
        // The origin's storage quota, or a body that failed mid-way: the entry is not kept.
        this.#index.remove(request.url)
        this.#tags.remove(request.url)
        throw error
      }
      this.#tags.add(request.url, tags)
      return true
    })
  }

  /** Deletes every entry tagged with one of `tags`; answers their URLs. */
  dropTags(tags: readonly string[]): Promise<string[]> {
    return this.#serial(async () => {
      const urls = this.#tags.drop(tags)
      await this.#delete(urls.map((url) => this.#index.get(url)).filter((e) => e !== undefined), 'invalidated')
      return urls
    })
  }

  /** Deletes every tagged entry (after a gap in the invalidation stream, nothing tagged can be trusted). */
  dropTagged(): Promise<string[]> {
    return this.#serial(async () => {
      const urls = this.#tags.dropAll()
      await this.#delete(urls.map((url) => this.#index.get(url)).filter((e) => e !== undefined), 'invalidated')
      return urls
    })
  }

  /** Resolves once the writes and deletes queued so far are done (stats then count them). */
  settled(): Promise<void> {
    return this.#serial(() => Promise.resolve())
  }

  stats(): WorkerStats {
    return {
      cacheName: this.#options.cacheName, maxBytes: this.#index.maxBytes, bytes: this.#index.bytes, entries: this.#index.size, tagged: this.#tags.size,
      evictions: this.#evictions, expirations: this.#expirations, invalidated: this.#invalidated, refusedTooLarge: this.#refusedTooLarge,
    }
  }

  async #delete(entries: readonly IndexedEntry[], why: 'expired' | 'invalidated' | 'replaced'): Promise<void> {
    for (const entry of entries) {
      this.#index.remove(entry.url)
      this.#tags.remove(entry.url)
    }
    if (why === 'expired') this.#expirations += entries.length
    if (why === 'invalidated') this.#invalidated += entries.length
    await Promise.all(entries.map((e) => this.#cache.delete(e.url)))
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work)
    this.#queue = run.catch(() => {})
    return run
  }

  async #rebuild(): Promise<void> {
    const found: IndexedEntry[] = []
    for (const request of await this.#cache.keys()) {
      const response = await this.#cache.match(request)
      const storedAt = Number(response?.headers.get(STORED_AT))
      const bytes = Number(response?.headers.get(BYTES))
      if (response === undefined || !Number.isSafeInteger(storedAt) || !Number.isSafeInteger(bytes)) {
        // Not written by this store (or by an older format): it cannot be accounted for.
        await this.#cache.delete(request)
        continue
      }
      found.push({ url: request.url, bytes, storedAt, expiresAt: storedAt + this.#options.maxAgeMs, tags: parseSurrogateKey(response.headers.get('surrogate-key')) })
    }
    found.sort((a, b) => a.storedAt - b.storedAt)
    for (const entry of found) {
      const { admitted, evicted } = this.#index.admit(entry)
      // A smaller bound than the previous worker's: what no longer fits goes now.
      for (const gone of evicted) {
        this.#tags.remove(gone.url)
        await this.#cache.delete(gone.url)
      }
      if (admitted) this.#tags.add(entry.url, entry.tags)
      else await this.#cache.delete(entry.url)
    }
    await this.#delete(this.#index.expired(this.#now()), 'expired')
  }
}
