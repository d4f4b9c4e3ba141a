import type { IncomingMessage, ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { CompiledBehavior } from './behavior.js'
import { chooseEncoding, encodedBody } from './compression.js'
import { NOT_IN_304, notModified, selectRange } from './conditional.js'
import { HOP_HEADER } from './forward.js'
import type { HeaderList } from './header-list.js'
import { HOP_BY_HOP } from './header-list.js'
import type { OriginResponse, OriginUnavailableError } from './origin-client.js'
import { SURROGATE_ONLY } from './stored-response.js'
import type { StoredResponse } from './stored-response.js'

/** `X-Cache` values: how the edge answered. */
export type XCache = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'COLLAPSED' | 'PASS'

/**
 * Writes a stored response: conditional requests get 304, a single byte range gets 206,
 * compression applies when the behavior asks for it, HEAD gets no body. Returns body bytes sent.
 * The common case (plain GET, HIT) writes a memoised header array and the stored buffer.
 */
export function sendStored(req: IncomingMessage, res: ServerResponse, stored: StoredResponse, behavior: CompiledBehavior,
  now: number, xCache: XCache, extra?: HeaderList): number {
  const headers = req.headers
  const head = req.method === 'HEAD'
  const forHop = headers[HOP_HEADER] !== undefined
  if (xCache === 'HIT' && extra === undefined && !forHop && headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined &&
    headers.range === undefined && !(behavior.options.compress && headers['accept-encoding'] !== undefined)) {
    res.writeHead(stored.status, stored.hitHeaders(now))
    if (head) {
      res.end()
      return 0
    }
    res.end(stored.body)
    return stored.body.length
  }
  const age = stored.ageSeconds(now)
  if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) && (stored.status === 200 || stored.status === 203) &&
    notModified(headers, stored)) {
    const flat = stored.flatHeaders(age, xCache, -1, forHop, NOT_IN_304)
    appendExtra(flat, extra)
    res.writeHead(304, flat)
    res.end()
    return 0
  }
  if (headers.range !== undefined && req.method === 'GET') {
    const range = selectRange(headers, stored)
    if (range.kind === 'partial') {
      const body = stored.body.subarray(range.start, range.end + 1)
      const flat = stored.flatHeaders(age, xCache, body.length, forHop)
      flat.push('content-range', `bytes ${range.start}-${range.end}/${stored.body.length}`)
      appendExtra(flat, extra)
      res.writeHead(206, flat)
      res.end(body)
      return body.length
    }
    if (range.kind === 'unsatisfiable') {
      const flat = stored.flatHeaders(age, xCache, 0, forHop, NOT_IN_304)
      flat.push('content-range', `bytes */${stored.body.length}`)
      res.writeHead(416, flat)
      res.end()
      return 0
    }
  }
  const encoding = behavior.options.compress ? chooseEncoding(headers, stored) : undefined
  if (encoding !== undefined) {
    const body = encodedBody(stored, encoding)
    const skip = new Set(['vary', 'etag'])
    const flat = stored.flatHeaders(age, xCache, body.length, forHop, skip)
    const vary = stored.headers.filter((h) => h[0] === 'vary').map((h) => h[1]).join(', ')
    flat.push('content-encoding', encoding, 'vary', vary === '' ? 'Accept-Encoding' : /accept-encoding/i.test(vary) ? vary : `${vary}, Accept-Encoding`)
    // A compressed body is another representation: its validator may only be weak (as nginx does).
    if (stored.etag !== undefined) flat.push('etag', stored.etag.startsWith('W/') ? stored.etag : `W/${stored.etag}`)
    appendExtra(flat, extra)
    res.writeHead(stored.status, flat)
    res.end(head ? undefined : body)
    return head ? 0 : body.length
  }
  const flat = stored.flatHeaders(age, xCache, stored.body.length, forHop)
  appendExtra(flat, extra)
  res.writeHead(stored.status, flat)
  res.end(head ? undefined : stored.body)
  return head ? 0 : stored.body.length
}

function appendExtra(flat: string[], extra: HeaderList | undefined): void {
  if (extra === undefined) return
  for (const [name, value] of extra) flat.push(name, value)
}

/** Response fields never passed to a client from the origin as they are: the edge sets its own. */
const REPLACED_ON_PASS: ReadonlySet<string> = new Set(['x-cache'])

/**
 * Streams an origin response through: headers (hop-by-hop already removed), then the chunks read so
 * far and the rest of the body, with back-pressure. Returns a promise of the bytes sent.
 */
export function sendStream(req: IncomingMessage, res: ServerResponse, response: OriginResponse, headers: HeaderList,
  head: readonly Buffer[] | undefined, xCache: XCache): Promise<number> {
  const forHop = req.headers[HOP_HEADER] !== undefined
  const flat: string[] = []
  for (const [name, value] of headers) {
    if (REPLACED_ON_PASS.has(name) || (!forHop && SURROGATE_ONLY.has(name))) continue
    flat.push(name, value)
  }
  flat.push('x-cache', xCache)
  const stream = response.stream
  return new Promise<number>((resolve) => {
    let sent = 0
    res.writeHead(response.status, flat)
    if (req.method === 'HEAD' || response.status === 204 || response.status === 304) {
      res.end()
      stream.destroy()
      resolve(0)
      return
    }
    for (const chunk of head ?? []) {
      sent += chunk.length
      res.write(chunk)
    }
    const finish = (): void => resolve(sent)
    stream.on('data', (chunk: Buffer) => { sent += chunk.length })
    stream.on('error', () => {
      res.destroy()
      finish()
    })
    stream.on('close', () => {
      // An origin that closes before the end of its body: the client must see a broken response,
      // not a short one that looks complete.
      if (!stream.complete) res.destroy()
    })
    res.on('close', () => {
      if (!res.writableFinished) stream.destroy()
      finish()
    })
    stream.pipe(res)
  })
}

/** An error the edge generates itself (never stored). */
export function sendError(res: ServerResponse, status: number, message: string, extra?: readonly [string, string][]): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = `${status} ${STATUS_CODES[status] ?? 'Error'}: ${message}\n`
  const flat = ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store',
    'x-cache', 'ERROR']
  for (const [name, value] of extra ?? []) flat.push(name, value)
  res.writeHead(status, flat)
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

/**
 * Passes an interim (1xx) response from the origin on to the client (RFC 9110 §15.2: a proxy
 * forwards them; they are never stored). Not to an HTTP/1.0 client, which cannot take them; 100
 * answers the client's own `Expect` and 101 switches protocols, neither of which this edge forwards.
 */
export function forwardInterim(res: ServerResponse, status: number, rawHeaders: readonly string[]): void {
  const socket = res.socket
  if (status < 102 || status > 199 || res.headersSent || res.destroyed || socket === null || res.req.httpVersionMinor === 0) return
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Informational'}\r\n`
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (HOP_BY_HOP.has((rawHeaders[i] as string).toLowerCase())) continue
    head += `${rawHeaders[i] as string}: ${rawHeaders[i + 1] as string}\r\n`
  }
  socket.write(`${head}\r\n`)
}

/** The answer to an origin that did not answer: 504 (timeout), 503 + Retry-After (breaker open), 502. */
export function sendOriginError(res: ServerResponse, error: OriginUnavailableError, breakerCooldownMs: number): void {
  if (error.reason === 'timeout') return sendError(res, 504, 'origin timeout')
  if (error.reason === 'breaker-open') {
    return sendError(res, 503, 'origin unavailable (circuit open)', [['retry-after', String(Math.ceil(breakerCooldownMs / 1000))]])
  }
  sendError(res, 502, 'origin unreachable')
}
