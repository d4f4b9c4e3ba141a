import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/** The request header naming the tiercache hops a request went through (first hop first). */
export const HOP_HEADER = 'x-tiercache-hop'

/** The request header proving that `X-Tiercache-Hop` comes from an edge holding the hop secret. */
export const HOP_AUTH_HEADER = 'x-tiercache-hop-auth'

/**
 * The proof an edge sends with its hop list (forward.ts writes it): HMAC-SHA256 of the list under
 * the shared secret. The secret itself never travels (an origin logging its headers does not leak
 * it), and the proof is bound to the list it came with.
 */
export function hopProof(secret: string, hops: string): string {
  return createHmac('sha256', secret).update(hops).digest('base64url')
}

/** True when the request's hop list carries a valid proof (constant-time comparison). */
export function hopTrusted(headers: IncomingHttpHeaders, secret: string | undefined): boolean {
  if (secret === undefined) return false
  const hop = headers[HOP_HEADER]
  const proof = headers[HOP_AUTH_HEADER]
  if (typeof hop !== 'string' || typeof proof !== 'string') return false
  const expected = Buffer.from(hopProof(secret, hop))
  const given = Buffer.from(proof)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
