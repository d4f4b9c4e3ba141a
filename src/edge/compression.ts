import type { IncomingHttpHeaders } from 'node:http'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { getAll } from './header-list.js'
import type { StoredResponse } from './stored-response.js'

/** CloudFront compresses objects between 1,000 and 10,000,000 bytes; so does this edge. */
export const COMPRESS_MIN_BYTES = 1000
/** Largest body compressed. */
export const COMPRESS_MAX_BYTES = 10_000_000

const COMPRESSIBLE = /^(?:text\/|application\/(?:json|javascript|xml|xhtml\+xml|rss\+xml|atom\+xml|ld\+json|manifest\+json|wasm)|image\/svg\+xml)|\+json\b|\+xml\b/i

/** The coding to apply for this client, or undefined to send the stored bytes as they are. */
export function chooseEncoding(headers: IncomingHttpHeaders, stored: StoredResponse): 'br' | 'gzip' | undefined {
  const accept = headers['accept-encoding']
  if (accept === undefined || stored.status !== 200) return undefined
  const size = stored.body.length
  if (size < COMPRESS_MIN_BYTES || size > COMPRESS_MAX_BYTES) return undefined
  if (getAll(stored.headers, 'content-encoding').length > 0) return undefined
  const type = getAll(stored.headers, 'content-type')[0]
  if (type === undefined || !COMPRESSIBLE.test(type)) return undefined
  if (getAll(stored.headers, 'cache-control').some((v) => /\bno-transform\b/i.test(v))) return undefined
  let br = 0
  let gzip = 0
  for (const part of accept.split(',')) {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';')
    let q = 1
    for (const p of params) {
      const [k, v] = p.trim().split('=')
      if (k === 'q' && v !== undefined) q = Number(v)
    }
    if (!(q > 0)) continue
    if (coding === 'br') br = q
    else if (coding === 'gzip' || coding === 'x-gzip') gzip = q
    else if (coding === '*') { br ||= q; gzip ||= q }
  }
  if (br > 0 && br >= gzip) return 'br'
  if (gzip > 0) return 'gzip'
  return undefined
}

/** The stored body in `encoding`, compressed once per stored response and memoised. */
export function encodedBody(stored: StoredResponse, encoding: 'br' | 'gzip'): Buffer {
  return stored.encoded(encoding, () => encoding === 'br'
    ? brotliCompressSync(stored.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: stored.body.length } })
    : gzipSync(stored.body, { level: 6 }))
}
