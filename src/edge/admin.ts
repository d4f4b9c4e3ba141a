import type { IncomingMessage, ServerResponse } from 'node:http'
import { MetricsExposition } from '../metrics/exposition.js'
import type { EdgeStats } from './metrics.js'
import type { PurgeRequest } from './purge.js'
import { bearerMatches } from './purge.js'
import { PurgeError } from './errors.js'
import type { TokenBucket } from './token-bucket.js'

/** What the edge's own endpoints need from the edge. */
export interface AdminDeps {
  readonly prefix: string
  readonly purgeToken: string | undefined
  readonly metricsEndpoint: boolean
  readonly id: string
  readonly maxBodyBytes: number
  readonly rate: TokenBucket
  purge(request: Partial<PurgeRequest>): Promise<{ entries: number; published: boolean }>
  stats(): EdgeStats
  /** Counts a refused purge (bad token). */
  refused(): void
  /** Counts a purge refused by the rate limit. */
  rateLimited(): void
  /** Resolves after `ms`: how long a refused purge waits for its answer. */
  hold(ms: number): Promise<void>
}

/** The metrics of each edge, rendered by the same code as `tiercache/metrics` (prom-client). */
const expositions = new WeakMap<AdminDeps, MetricsExposition>()

/**
 * The edge's own endpoints under the admin prefix: `POST purge` (bearer token, constant-time check,
 * then the rate limit, then a bounded body), `GET metrics` (Prometheus text), `GET health`,
 * `GET stats`. `trusted` is true on the admin listener; on the public port metrics, stats and
 * health need the purge token too, so they tell nothing to anyone else. Every purge answer is JSON.
 */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: string, deps: AdminDeps, trusted: boolean): Promise<number> {
  const name = url.slice(deps.prefix.length).split('?')[0]
  const method = req.method ?? 'GET'
  const authorized = (): boolean => bearerMatches(req.headers.authorization, deps.purgeToken)
  const unauthorized = (): number => {
    // The body is not wanted: discard it as it arrives, so the connection stays usable.
    req.resume()
    deps.refused()
    return sendJson(res, 401, { ok: false, code: 'E_PURGE_UNAUTHORIZED', error: deps.purgeToken === undefined ? 'purge API disabled (no purge token configured)' : 'invalid or missing bearer token' },
      [['www-authenticate', 'Bearer realm="tiercache"']])
  }
  if (name === 'purge') {
    if (method !== 'POST') return sendJson(res, 405, { ok: false, code: 'E_PURGE_INVALID', error: 'use POST' }, [['allow', 'POST']])
    // A refused purge is answered only after a delay (a second, or the Retry-After time): a client
    // flooding over keep-alive connections then gets one answer per connection per interval, and
    // the edge does not parse, check and answer the rest of the flood on the event loop that
    // serves cache hits. The waiting requests cost a timer each, nothing more.
    if (!authorized()) {
      await deps.hold(1_000)
      return unauthorized()
    }
    if (!deps.rate.take()) {
      req.resume()
      deps.rateLimited()
      const retryAfter = deps.rate.retryAfterSeconds()
      await deps.hold(retryAfter * 1000)
      return sendJson(res, 429, { ok: false, code: 'E_PURGE_RATE_LIMITED', error: 'too many purge requests; retry later' },
        [['retry-after', String(retryAfter)]])
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > deps.maxBodyBytes) return tooLarge(req, res, deps.maxBodyBytes)
    let text: string
    try {
      text = (await readLimited(req, deps.maxBodyBytes)).toString('utf8')
    } catch (error) {
      if (error instanceof PayloadTooLarge) return tooLarge(req, res, deps.maxBodyBytes)
      throw error
    }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return sendJson(res, 400, { ok: false, code: 'E_PURGE_INVALID', error: 'purge body is not JSON' })
    }
    try {
      const result = await deps.purge(body as Partial<PurgeRequest>)
      return sendJson(res, 200, { ok: true, id: deps.id, ...result })
    } catch (error) {
      if (error instanceof PurgeError && error.code === 'E_PURGE_INVALID') return sendJson(res, 400, { ok: false, code: error.code, error: error.message })
      if (error instanceof PurgeError) return sendJson(res, 502, { ok: false, code: error.code, error: error.message })
      throw error
    }
  }
  if (!trusted && !authorized()) return unauthorized()
  if (method !== 'GET' && method !== 'HEAD') return sendJson(res, 405, { ok: false, error: 'use GET' }, [['allow', 'GET, HEAD']])
  if (name === 'metrics' && deps.metricsEndpoint) {
    let exposition = expositions.get(deps)
    if (exposition === undefined) {
      exposition = new MetricsExposition({ stats: () => deps.stats() })
      expositions.set(deps, exposition)
    }
    let rendered: { contentType: string; text: string }
    try {
      rendered = await exposition.render()
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown }
      if (e.code === 'E_DEPENDENCY_MISSING') return sendJson(res, 503, { ok: false, code: e.code, error: String(e.message) })
      throw error
    }
    const { contentType, text } = rendered
    res.writeHead(200, ['content-type', contentType, 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(text))])
    res.end(method === 'HEAD' ? undefined : text)
    return method === 'HEAD' ? 0 : Buffer.byteLength(text)
  }
  if (name === 'health') return sendJson(res, 200, { ok: true, id: deps.id, breaker: deps.stats().breaker })
  if (name === 'stats' && deps.metricsEndpoint) return sendJson(res, 200, deps.stats())
  return sendJson(res, 404, { ok: false, error: 'unknown edge endpoint' })
}

function tooLarge(req: IncomingMessage, res: ServerResponse, limit: number): number {
  // The rest of the body is discarded as it arrives (closing with unread bytes would reset the
  // connection and lose the answer), and the connection is closed after the answer.
  req.resume()
  res.shouldKeepAlive = false
  return sendJson(res, 413, { ok: false, code: 'E_PURGE_TOO_LARGE', error: `purge body larger than ${limit} bytes` })
}

class PayloadTooLarge extends Error {}

/** Reads a body up to `limit` bytes; past it, stops reading (the caller answers 413 and closes). */
function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > limit) {
        req.off('data', onData)
        reject(new PayloadTooLarge())
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.on('end', () => resolve(Buffer.concat(chunks, length)))
    req.on('error', reject)
  })
}

/** Writes a JSON answer; returns the body bytes. */
export function sendJson(res: ServerResponse, status: number, body: unknown, extra: readonly [string, string][] = []): number {
  const text = JSON.stringify(body)
  const flat = ['content-type', 'application/json', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(text))]
  for (const [n, v] of extra) flat.push(n, v)
  res.writeHead(status, flat)
  res.end(res.req.method === 'HEAD' ? undefined : text)
  return Buffer.byteLength(text)
}
