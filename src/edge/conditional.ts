import type { IncomingHttpHeaders } from 'node:http'
import { parseHttpDate } from './http-date.js'
import type { StoredResponse } from './stored-response.js'

/** The opaque part of an entity tag, without `W/` (weak comparison, RFC 9110 §8.8.3.2). */
function opaque(tag: string): string {
  const t = tag.trim()
  return t.startsWith('W/') ? t.slice(2) : t
}

/** Splits an `If-None-Match` list, keeping commas inside quoted tags. */
export function entityTags(list: string): string[] {
  const out: string[] = []
  let current = ''
  let quoted = false
  for (const c of list) {
    if (c === '"') quoted = !quoted
    if (c === ',' && !quoted) {
      if (current.trim() !== '') out.push(current.trim())
      current = ''
    } else {
      current += c
    }
  }
  if (current.trim() !== '') out.push(current.trim())
  return out
}

/**
 * RFC 9110 §13.2.2 for a response the cache answers itself (GET or HEAD): `If-None-Match` (weak
 * comparison) decides when present; otherwise `If-Modified-Since` against `Last-Modified` (or
 * `Date` when there is none). True means "answer 304".
 */
export function notModified(headers: IncomingHttpHeaders, stored: StoredResponse): boolean {
  const inm = headers['if-none-match']
  if (inm !== undefined) {
    if (inm.trim() === '*') return true
    const etag = stored.etag
    if (etag === undefined) return false
    const mine = opaque(etag)
    return entityTags(inm).some((t) => opaque(t) === mine)
  }
  const ims = headers['if-modified-since']
  if (ims === undefined) return false
  const since = parseHttpDate(ims)
  if (Number.isNaN(since)) return false
  const validator = stored.lastModified ?? stored.headers.find((h) => h[0] === 'date')?.[1]
  const at = parseHttpDate(validator)
  return !Number.isNaN(at) && at <= since
}

/** True when the request has preconditions the edge does not evaluate itself (it forwards those). */
export function hasStatePreconditions(headers: IncomingHttpHeaders): boolean {
  return headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined
}

/** Representation metadata left out of a 304 (RFC 9110 §15.4.5). */
export const NOT_IN_304: ReadonlySet<string> = new Set([
  'content-length', 'content-type', 'content-encoding', 'content-range', 'content-language', 'content-md5',
])

/** A byte range to serve, or why not. */
export type RangeDecision =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' }

/**
 * One `bytes=` range of a stored complete response (RFC 9110 §14). Several ranges, other units or
 * a failed `If-Range` give the full response, which is always allowed.
 */
export function selectRange(headers: IncomingHttpHeaders, stored: StoredResponse): RangeDecision {
  const range = headers.range
  if (range === undefined || stored.status !== 200) return { kind: 'full' }
  const ifRange = headers['if-range']
  if (ifRange !== undefined) {
    const v = (Array.isArray(ifRange) ? ifRange.join(', ') : ifRange).trim()
    if (v.startsWith('"')) {
      if (stored.etag === undefined || stored.etag.startsWith('W/') || stored.etag !== v) return { kind: 'full' }
    } else if (stored.lastModified === undefined || parseHttpDate(stored.lastModified) !== parseHttpDate(v) || Number.isNaN(parseHttpDate(v))) {
      return { kind: 'full' }
    }
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return { kind: 'full' }
  const size = stored.body.length
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return { kind: 'unsatisfiable' }
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
    if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' }
  }
  if (start >= size || size === 0) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start, end }
}
