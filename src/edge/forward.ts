import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { MAX_KEY_BYTES } from '../core/key.js'
import type { CompiledBehavior } from './behavior.js'
import type { HeaderList } from './header-list.js'
import { HOP_AUTH_HEADER, HOP_HEADER, hopProof } from './hop-auth.js'
import { getAll } from './header-list.js'

export { HOP_HEADER } from './hop-auth.js'

/**
 * Headers forwarded when the request passes through uncached (unsafe methods, bodies, ranges):
 * the body's description, and the preconditions and ranges the origin must evaluate. They never
 * reach a stored response, so they need not be keyed.
 */
export const PASS_HEADERS: readonly string[] = [
  'content-type', 'content-length', 'content-encoding', 'content-language', 'content-md5', 'digest',
  'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'range',
]

/** What {@link forwardHeaders} needs from the edge. */
export interface ForwardContext {
  readonly originHost: string
  readonly surrogateId: string
  readonly edgeId: string
  readonly xForwardedFor: boolean
  /** When set, the hop list is sent with its proof (see hop-auth.ts). */
  readonly hopSecret: string | undefined
}

function connectionTokens(headers: IncomingHttpHeaders): Set<string> | undefined {
  const value = headers.connection
  if (value === undefined) return undefined
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()))
}

/**
 * The origin request's headers. Only the behavior's keyed and forward-only headers, its cookies,
 * and (for pass-through requests) {@link PASS_HEADERS} are copied from the client; everything else
 * (`X-Forwarded-Host`, `X-Original-URL`, ...) is dropped, so the origin never sees an input that is
 * not part of the cache key. Headers the client lists in `Connection` are hop-by-hop and dropped.
 */
export function forwardHeaders(req: IncomingMessage, behavior: CompiledBehavior, pass: boolean, ctx: ForwardContext): OutgoingHttpHeaders {
  const inc = req.headers
  const out: OutgoingHttpHeaders = {}
  const listed = connectionTokens(inc)
  for (const name of behavior.forwardedHeaderNames) {
    const value = inc[name]
    if (value !== undefined && listed?.has(name) !== true) out[name] = value
  }
  if (out.host === undefined) out.host = ctx.originHost
  const cookie = behavior.cookie(inc)
  if (cookie !== undefined && listed?.has('cookie') !== true) out.cookie = cookie
  if (pass) {
    for (const name of PASS_HEADERS) {
      const value = inc[name]
      if (value !== undefined && listed?.has(name) !== true) out[name] = value
    }
    if (inc['transfer-encoding'] !== undefined) delete out['content-length']
  }
  // Only a request from a proven hop still has the hop header here: the edge strips it otherwise.
  const hop = inc[HOP_HEADER]
  // RFC 9110 §7.6.3: a gateway sends Via on requests it forwards. The hop header carries node ids
  // so a shield sees the first hop and a loop is detected.
  out.via = hop !== undefined && inc.via !== undefined ? `${inc.via}, 1.1 ${ctx.surrogateId}` : `1.1 ${ctx.surrogateId}`
  const hops = hop === undefined ? ctx.edgeId : `${Array.isArray(hop) ? hop.join(', ') : hop}, ${ctx.edgeId}`
  out[HOP_HEADER] = hops
  if (ctx.hopSecret !== undefined) out[HOP_AUTH_HEADER] = hopProof(ctx.hopSecret, hops)
  out['surrogate-capability'] = `${ctx.surrogateId}="Surrogate/1.0"`
  if (ctx.xForwardedFor) {
    const address = req.socket.remoteAddress ?? 'unknown'
    out['x-forwarded-for'] = hop !== undefined && inc['x-forwarded-for'] !== undefined ? `${String(inc['x-forwarded-for'])}, ${address}` : address
  }
  return out
}

/** True when `edgeId` already appears in the request's hop list (a forwarding loop). */
export function isLoop(headers: IncomingHttpHeaders, edgeId: string): boolean {
  const hop = headers[HOP_HEADER]
  if (hop === undefined) return false
  const text = Array.isArray(hop) ? hop.join(',') : hop
  return text.split(',').some((h) => h.trim() === edgeId)
}

/**
 * A `Location` / `Content-Location` value as a path, when it points at the same host as the request
 * (RFC 9111 §4.4 invalidates only same-origin URIs, so a response cannot purge another site).
 */
export function sameOriginPath(value: string, req: IncomingMessage): string | undefined {
  const host = req.headers.host ?? 'edge.invalid'
  try {
    const base = new URL(req.url ?? '/', `http://${host}`)
    const url = new URL(value, base)
    if (url.host !== base.host) return undefined
    return url.pathname + url.search
  } catch {
    return undefined
  }
}

/** Most tags kept from one response. */
export const MAX_TAGS_PER_RESPONSE = 256

/** Tags from `Surrogate-Key` (space-separated, Fastly) and `Cache-Tag` (comma-separated, Cloudflare). */
export function responseTags(headers: HeaderList): string[] {
  const out = new Set<string>()
  const add = (tag: string): void => {
    if (tag === '' || out.size >= MAX_TAGS_PER_RESPONSE) return
    if (tag.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(tag, 'utf8') > MAX_KEY_BYTES) return
    out.add(tag)
  }
  for (const line of getAll(headers, 'surrogate-key')) for (const t of line.split(/[ \t]+/)) add(t.trim())
  for (const line of getAll(headers, 'cache-tag')) for (const t of line.split(',')) add(t.trim())
  return [...out]
}
