/**
 * Redis key layout, version 1. Everything tiercache writes starts with `tc1:<namespace>:` so that
 * namespaces never collide and a future incompatible layout can live beside this one.
 *
 * - entry of key K:  `tc1:<ns>:e:{K}`
 * - lease of key K:  `tc1:<ns>:l:{K}`
 *
 * The braces make K the Redis Cluster hash tag, so an entry and its lease always share a slot and
 * one Lua script can touch both. (Redis hashes the text between the first `{` and the first `}`
 * after it; both keys put `{K}` right after the same prefix, so they hash alike even when K itself
 * contains braces.)
 */
export const KEY_LAYOUT_VERSION = 1

/** Key builders for one namespace. */
export class RedisKeys {
  readonly prefix: string
  readonly #entry: string
  readonly #lease: string

  constructor(namespace: string) {
    if (namespace.includes('{') || namespace.includes('}')) throw new Error('namespace must not contain braces')
    this.prefix = `tc${KEY_LAYOUT_VERSION}:${namespace}:`
    this.#entry = `${this.prefix}e:{`
    this.#lease = `${this.prefix}l:{`
  }

  entry(key: string): string {
    return this.#entry + key + '}'
  }

  lease(key: string): string {
    return this.#lease + key + '}'
  }

  /** SCAN pattern matching every entry of the namespace (for `clear`, never on a hot path). */
  entryPattern(): string {
    return `${escapeGlob(this.#entry)}*`
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}
