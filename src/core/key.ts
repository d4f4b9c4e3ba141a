import { InvalidKeyError, InvalidTagError } from './errors.js'

/** Longest key or tag, in UTF-8 bytes. Redis would take more; a 1 KB key is already a bug upstream. */
export const MAX_KEY_BYTES = 1024

// A string of at most 341 UTF-16 units is at most 1023 UTF-8 bytes (3 bytes per unit at worst),
// so the common case never pays for Buffer.byteLength.
const SAFE_LENGTH = Math.floor(MAX_KEY_BYTES / 3)

/**
 * True when `text` has a lone UTF-16 surrogate (half of a pair). UTF-8 cannot encode one: it
 * becomes U+FFFD on the way to Redis, so `'k\uD800'` and `'k\uDC00'` would name the same Redis
 * key and one caller would read the other's value. Such keys and tags are refused.
 */
function hasLoneSurrogate(text: string): boolean {
  return !(text as unknown as { isWellFormed(): boolean }).isWellFormed()
}

/**
 * Throws {@link InvalidKeyError} unless `key` is a non-empty, well-formed (no lone surrogate)
 * string of at most 1024 UTF-8 bytes.
 */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidKeyError(key, 'expected a string')
  if (key.length === 0) throw new InvalidKeyError(key, 'expected a non-empty string')
  if (key.length > SAFE_LENGTH && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidKeyError(key, `longer than ${MAX_KEY_BYTES} UTF-8 bytes`)
  }
  if (hasLoneSurrogate(key)) throw new InvalidKeyError(key, 'contains a lone UTF-16 surrogate, which UTF-8 (and so Redis) cannot represent')
}

/**
 * True for a key the hit path may look up, without building an error. It skips the surrogate
 * check: no write path lets such a key into L1, so its lookup misses and the slow path refuses it.
 */
export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && (key.length <= SAFE_LENGTH || Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES)
}

/** Validates a tag list; returns a frozen copy without duplicates. */
export function normalizeTags(tags: unknown, key?: string): readonly string[] {
  if (tags === undefined) return EMPTY_TAGS
  if (!Array.isArray(tags)) throw new InvalidTagError(tags, 'expected an array of strings', key)
  if (tags.length === 0) return EMPTY_TAGS
  const out: string[] = []
  for (const tag of tags as unknown[]) {
    if (typeof tag !== 'string' || tag.length === 0) throw new InvalidTagError(tag, 'expected a non-empty string', key)
    if (tag.length > SAFE_LENGTH && Buffer.byteLength(tag, 'utf8') > MAX_KEY_BYTES) {
      throw new InvalidTagError(tag, `longer than ${MAX_KEY_BYTES} UTF-8 bytes`, key)
    }
    if (hasLoneSurrogate(tag)) throw new InvalidTagError(tag, 'contains a lone UTF-16 surrogate, which UTF-8 (and so Redis) cannot represent', key)
    if (!out.includes(tag)) out.push(tag)
  }
  return Object.freeze(out)
}

/** The shared empty tag list (entries without tags allocate nothing for them). */
export const EMPTY_TAGS: readonly string[] = Object.freeze([])
