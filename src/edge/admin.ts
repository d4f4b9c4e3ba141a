import type { IncomingMessage, ServerResponse } from 'node:http'
import { PurgeError } from './errors.js'
import type { EdgeStats } from './metrics.js'
import { prometheusText } from './metrics.js'
import type { PurgeRequest } from './purge.js'
import { bearerMatches } from './purge.js'

/** Largest purge body accepted. */
const MAX_ADMIN_BODY = 64 * 1024

/** What the edge's own endpoints need from the edge. */
export interface AdminDeps {
  readonly prefix: string
  readonly purgeToken: string | undefined
  readonly metricsEndpoint: boolean
  readonly id: string
  purge(request: Partial<PurgeRequest>): Promise<{ entries: number; published: boolean }>
  stats(): EdgeStats
  /** Counts a refused purge. */
  refused(): void
  reject(res: ServerResponse, status: number, message: string, extra?: readonly [string, string][]): void
}

/**
 * The edge's own endpoints under the admin prefix: `POST purge` (bearer token, constant-time
 * check before the body is read), `GET metrics` (Prometheus text), `GET health`, `GET stats`.
 */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: string, deps: AdminDeps): Promise<void> {
  const name = url.slice(deps.prefix.length).split('?')[0]
  const method = req.method ?? 'GET'
  if (name === 'purge') {
    if (method !== 'POST') return deps.reject(res, 405, 'use POST', [['allow', 'POST']])
    if (!bearerMatches(req.headers.authorization, deps.purgeToken)) {
      deps.refused()
      req.resume()
      return deps.reject(res, 401, deps.purgeToken === undefined ? 'purge API disabled (no purge token configured)' : 'invalid or missing bearer token',
        [['www-authenticate', 'Bearer realm="tiercache"']])
    }
    let body: unknown
    try {
      body = JSON.parse((await readLimited(req, MAX_ADMIN_BODY)).toString('utf8'))
    } catch (error) {
      return deps.reject(res, error instanceof PayloadTooLarge ? 413 : 400, error instanceof PayloadTooLarge ? 'purge body too large' : 'purge body is not JSON')
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
  if (method !== 'GET' && method !== 'HEAD') return deps.reject(res, 405, 'use GET', [['allow', 'GET, HEAD']])
  if (name === 'metrics' && deps.metricsEndpoint) {
    const text = prometheusText(deps.stats())
    res.writeHead(200, ['content-type', 'text/plain; version=0.0.4; charset=utf-8', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(text))])
    res.end(method === 'HEAD' ? undefined : text)
    return
  }
  if (name === 'health') return sendJson(res, 200, { ok: true, id: deps.id, breaker: deps.stats().breaker })
  if (name === 'stats' && deps.metricsEndpoint) return sendJson(res, 200, deps.stats())
  return deps.reject(res, 404, 'unknown edge endpoint')
}

class PayloadTooLarge extends Error {}

function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    req.on('data', (chunk: Buffer) => {
      length += chunk.length
      if (length > limit) {
        req.destroy()
        reject(new PayloadTooLarge())
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks, length)))
    req.on('error', reject)
  })
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, ['content-type', 'application/json', 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(text))])
  res.end(text)
}
