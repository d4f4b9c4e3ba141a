/**
 * Redis key layout, version 1. Everything tiercache writes starts with `tc1:<namespace>:` so that
 * namespaces never collide and a future incompatible layout can live beside this one.
 *
 * Per cache key K (the braces make K the Redis Cluster hash tag, so all three share a slot and one
 * Lua script can touch them together):
 * - entry:      `tc1:<ns>:e:{K}`
 * - lease:      `tc1:<ns>:l:{K}`   (fill lease token, see scripts.ts)
 * - tombstone:  `tc1:<ns>:v:{K}`   (highest source version invalidated, rejects older fills)
 *
 * Per namespace (hash tag `{<ns>}`: one slot, so tag bumps and the bus append are one atomic script):
 * - tag version:  `tc1:<ns>:c:{<ns>}:t:<tag>`
 * - bus stream:   `tc1:<ns>:c:{<ns>}:bus`
 * - bus epoch:    `tc1:<ns>:c:{<ns>}:epoch`  (random id; a new one means the stream was lost)
 * - CDN purger:   `tc1:<ns>:c:{<ns>}:cdn:<name>:cursor` (hash) and `...:cdn:<name>:dead` (dead letters)
 *
 * Per lock name N: `tc1:<ns>:k:{N}` and its fencing counter `tc1:<ns>:k:{N}:fence`.
 *
 * The fill lease key also fences write-throughs: while one is in flight it holds a list of write
 * tokens, `,<token>,<token>` (a fill lease token never starts with a comma), see scripts.ts.
 *
 * Per write-behind queue Q (hash tag `{<ns>/<Q>}`: one slot, so the scripts that move a write
 * between the queue and the dead letters are atomic on a Cluster too):
 * - queue stream:   `tc1:<ns>:q:{<ns>/<Q>}:s`     (consumer group `flushers`; entry fields in write-queue-entry.ts)
 * - dead letters:   `tc1:<ns>:q:{<ns>/<Q>}:dead`
 * - sequence:       `tc1:<ns>:q:{<ns>/<Q>}:seq`   (max(last + 1, Redis time in µs): never repeats after a loss)
 * - heartbeat:      `tc1:<ns>:q:{<ns>/<Q>}:hb:<consumer>`  (expires when the flusher stops beating)
 *
 * Prefix invalidation scans `tc1:<ns>:l:{<prefix>*` (leases first) then `tc1:<ns>:e:{<prefix>*`
 * (entries) with SCAN MATCH, the prefix glob-escaped.
 *
 * The edge's shared Redis storage (src/edge/redis-storage.ts) uses its own namespace (default
 * `edge`) with the entry keys above plus `tc1:<ns>:t:{tag}` (tag index) and `tc1:<ns>:u:{url}`
 * (URL index); they cannot collide with a cache namespace's keys.
 *
 * Redis hashes the text between the first `{` and the first `}` after it. Every per-key name puts
 * `{K}` right after a fixed prefix, so they hash alike even when K itself contains braces.
 * test/unit/redis-keys.test.ts pins this layout.
 */
export const KEY_LAYOUT_VERSION = 1

/** Key builders for one namespace. */
export class RedisKeys {
  readonly namespace: string
  readonly prefix: string
  readonly #entry: string
  readonly #lease: string
  readonly #tombstone: string
  readonly #coherence: string
  readonly #lock: string

  constructor(namespace: string) {
    if (namespace.includes('{') || namespace.includes('}')) throw new Error('namespace must not contain braces')
    this.namespace = namespace
    this.prefix = `tc${KEY_LAYOUT_VERSION}:${namespace}:`
    this.#entry = `${this.prefix}e:{`
    this.#lease = `${this.prefix}l:{`
    this.#tombstone = `${this.prefix}v:{`
    this.#coherence = `${this.prefix}c:{${namespace}}:`
    this.#lock = `${this.prefix}k:{`
  }

  entry(key: string): string {
    return this.#entry + key + '}'
  }

  lease(key: string): string {
    return this.#lease + key + '}'
  }

  tombstone(key: string): string {
    return this.#tombstone + key + '}'
  }

  tag(tag: string): string {
    return `${this.#coherence}t:${tag}`
  }

  get bus(): string {
    return `${this.#coherence}bus`
  }

  get epoch(): string {
    return `${this.#coherence}epoch`
  }

  lock(name: string): string {
    return this.#lock + name + '}'
  }

  lockFence(name: string): string {
    return `${this.#lock}${name}}:fence`
  }

  /** The keys of write-behind queue `name` (see the layout above). */
  queue(name: string): QueueKeys {
    if (name.includes('{') || name.includes('}')) throw new Error('queue name must not contain braces')
    const base = `${this.prefix}q:{${this.namespace}/${name}}:`
    return { stream: `${base}s`, dead: `${base}dead`, seq: `${base}seq`, heartbeatPrefix: `${base}hb:` }
  }

  /**
   * The keys of CDN purger `name` (one per provider it drives): its cursor on the bus (a hash: id,
   * consumed, epoch) and its dead letters (a list of JSON records, newest first). In the
   * namespace's slot, beside the bus they follow.
   */
  cdnPurger(name: string): { cursor: string; dead: string } {
    if (name.includes('{') || name.includes('}')) throw new Error('CDN purger name must not contain braces')
    return { cursor: `${this.#coherence}cdn:${name}:cursor`, dead: `${this.#coherence}cdn:${name}:dead` }
  }

  /** SCAN MATCH patterns for the fill leases and the entries of every key starting with `prefix`. */
  prefixPatterns(prefix: string): { leases: string; entries: string } {
    const escaped = prefix.replace(/[*?[\]\\]/g, '\\$&')
    return { leases: `${this.#lease}${escaped}*`, entries: `${this.#entry}${escaped}*` }
  }
}

/** The Redis keys of one write-behind queue. */
export interface QueueKeys {
  readonly stream: string
  readonly dead: string
  readonly seq: string
  /** Followed by the consumer name. */
  readonly heartbeatPrefix: string
}
