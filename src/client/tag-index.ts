/** At most this many tags are read from one `Surrogate-Key` header (the rest are ignored). */
export const MAX_TAGS_PER_RESPONSE = 64
/** A tag longer than this is ignored (the edge and the event stream refuse such tags too). */
export const MAX_TAG_LENGTH = 200
/** Drop generations remembered per tag before the oldest are folded into one floor. */
const MAX_REMEMBERED_DROPS = 10_000

/**
 * The tags of a `Surrogate-Key` header: space-separated, as the edge and CDNs read it
 * (`cacheHeaders()` writes it); empty, duplicate, over-long and control-character tokens are left out.
 */
export function parseSurrogateKey(header: string | null | undefined): string[] {
  if (header === null || header === undefined || header === '') return []
  const tags = new Set<string>()
  for (const token of header.split(/[ \t]+/)) {
    if (tags.size >= MAX_TAGS_PER_RESPONSE) break
    if (isTag(token)) tags.add(token)
  }
  return [...tags]
}

/** A tag as the client layer accepts it: 1 to 200 visible ASCII characters, no comma (the event stream's separator). */
export function isTag(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TAG_LENGTH && /^[\x21-\x2b\x2d-\x7e]+$/.test(value)
}

/**
 * Which stored URLs carry which tag, so that an invalidation of a tag finds its entries without
 * reading any stored response; and when each tag was last dropped, so that a response fetched
 * before a drop and arriving after it is not stored (it may be the old version: the fill /
 * invalidate race, here between a background revalidation and an invalidation). Pure.
 */
export class TagIndex {
  readonly #urlsByTag = new Map<string, Set<string>>()
  readonly #tagsByUrl = new Map<string, readonly string[]>()
  readonly #droppedAt = new Map<string, number>()
  #generation = 0
  /** Fetches started at or before this generation are refused whatever their tags (the drop map overflowed). */
  #floor = 0

  /** The current drop generation: take it before a fetch, pass it to {@link isCurrent} after. */
  get generation(): number {
    return this.#generation
  }

  /** Number of URLs indexed. */
  get size(): number {
    return this.#tagsByUrl.size
  }

  add(url: string, tags: readonly string[]): void {
    this.remove(url)
    if (tags.length === 0) return
    this.#tagsByUrl.set(url, tags)
    for (const tag of tags) {
      let urls = this.#urlsByTag.get(tag)
      if (urls === undefined) this.#urlsByTag.set(tag, urls = new Set())
      urls.add(url)
    }
  }

  remove(url: string): void {
    const tags = this.#tagsByUrl.get(url)
    if (tags === undefined) return
    this.#tagsByUrl.delete(url)
    for (const tag of tags) {
      const urls = this.#urlsByTag.get(tag)
      urls?.delete(url)
      if (urls?.size === 0) this.#urlsByTag.delete(tag)
    }
  }

  tagsOf(url: string): readonly string[] {
    return this.#tagsByUrl.get(url) ?? []
  }

  /**
   * Records the drop of `tags` and answers the URLs tagged with any of them (the caller deletes
   * them and calls {@link remove}).
   */
  drop(tags: readonly string[]): string[] {
    const generation = ++this.#generation
    const urls = new Set<string>()
    for (const tag of tags) {
      this.#droppedAt.delete(tag)
      this.#droppedAt.set(tag, generation)
      for (const url of this.#urlsByTag.get(tag) ?? []) urls.add(url)
    }
    if (this.#droppedAt.size > MAX_REMEMBERED_DROPS) {
      // Bounded memory: forget the per-tag generations; anything in flight now is refused once.
      this.#droppedAt.clear()
      this.#floor = generation
    }
    return [...urls]
  }

  /** Every tagged URL, for a resync after a gap in the invalidation stream (the caller deletes them). */
  dropAll(): string[] {
    const generation = ++this.#generation
    this.#droppedAt.clear()
    this.#floor = generation
    return [...this.#tagsByUrl.keys()]
  }

  /**
   * True when a response with `tags`, fetched when the generation was `since`, may be stored: no
   * drop of one of its tags (nor a resync) happened since.
   */
  isCurrent(tags: readonly string[], since: number): boolean {
    if (since < this.#floor) return false
    for (const tag of tags) {
      const at = this.#droppedAt.get(tag)
      if (at !== undefined && at > since) return false
    }
    return true
  }
}
