import { createHash, timingSafeEqual } from 'node:crypto'
import { MAX_KEY_BYTES } from '../core/key.js'
import { PurgeError } from './errors.js'

/** A purge request: what the API accepts and what travels on the bus. */
export interface PurgeRequest {
  readonly tags: readonly string[]
  /** Paths (with query) as clients request them: `/items/42`, `/search?q=x`. */
  readonly urls: readonly string[]
  /** Path prefixes: `/items/`. */
  readonly prefixes: readonly string[]
  /** Mark stale (kept for stale-if-error and revalidation) instead of removing. */
  readonly soft: boolean
}

/** Most items one purge request may name (a bigger purge is split by the caller). */
export const MAX_PURGE_ITEMS = 1000

function stringList(value: unknown, field: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new PurgeError('E_PURGE_INVALID', `expected ${field} to be an array of strings`, { field })
  const out: string[] = []
  for (const item of value as unknown[]) {
    if (typeof item !== 'string' || item.length === 0 || Buffer.byteLength(item, 'utf8') > MAX_KEY_BYTES) {
      throw new PurgeError('E_PURGE_INVALID', `expected every ${field} item to be a non-empty string of at most ${MAX_KEY_BYTES} bytes`, { field })
    }
    if (hasControl(item)) throw new PurgeError('E_PURGE_INVALID', `${field} items must not contain control characters`, { field })
    if (!out.includes(item)) out.push(item)
  }
  return out
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/**
 * Validates a purge body: `{ "tags": [...], "urls": [...], "prefixes": [...], "soft": false }`.
 * URLs and prefixes must be paths (`/...`). Throws `E_PURGE_INVALID`.
 */
export function parsePurgeRequest(body: unknown): PurgeRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PurgeError('E_PURGE_INVALID', 'expected a JSON object with tags, urls or prefixes')
  }
  const b = body as Record<string, unknown>
  for (const key of Object.keys(b)) {
    if (!['tags', 'urls', 'prefixes', 'soft'].includes(key)) throw new PurgeError('E_PURGE_INVALID', `unknown field "${key.slice(0, 40)}"`)
  }
  const tags = stringList(b.tags, 'tags')
  const urls = stringList(b.urls, 'urls').map(toPath)
  const prefixes = stringList(b.prefixes, 'prefixes').map(toPath)
  if (b.soft !== undefined && typeof b.soft !== 'boolean') throw new PurgeError('E_PURGE_INVALID', 'expected soft to be a boolean', { field: 'soft' })
  if (tags.length + urls.length + prefixes.length === 0) throw new PurgeError('E_PURGE_INVALID', 'a purge must name at least one tag, url or prefix')
  if (tags.length + urls.length + prefixes.length > MAX_PURGE_ITEMS) {
    throw new PurgeError('E_PURGE_INVALID', `a purge may name at most ${MAX_PURGE_ITEMS} items`)
  }
  return { tags, urls, prefixes, soft: b.soft === true }
}

/** Accepts `/path?q` or an absolute URL (its path and query are used). */
function toPath(value: string): string {
  if (value.startsWith('/')) return value
  try {
    const url = new URL(value)
    return url.pathname + url.search
  } catch {
    throw new PurgeError('E_PURGE_INVALID', 'expected urls and prefixes to be paths starting with "/" or absolute URLs', { field: 'urls' })
  }
}

/**
 * Constant-time bearer token check. Both sides are hashed first so the comparison has a fixed
 * length and takes the same time whatever the candidate looks like.
 */
export function bearerMatches(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined || authorization === undefined) return false
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization)
  const candidate = m?.[1] ?? ''
  const a = createHash('sha256').update(candidate).digest()
  return timingSafeEqual(a, tokenDigest(token)) && m !== null
}

// The configured token's digest, computed once: a purge flood pays one hash per request, not two.
let digestOf: string | undefined
let digest: Buffer = Buffer.alloc(32)
function tokenDigest(token: string): Buffer {
  if (token !== digestOf) {
    digest = createHash('sha256').update(token).digest()
    digestOf = token
  }
  return digest
}
