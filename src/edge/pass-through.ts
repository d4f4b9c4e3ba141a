import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { CompiledBehavior } from './behavior.js'
import { forwardHeaders, sameOriginPath } from './forward.js'
import type { ForwardContext } from './forward.js'
import { getAll, stripHopByHop } from './header-list.js'
import type { EdgeCounters, EdgeResult } from './metrics.js'
import type { ResolvedEdgeOptions } from './options.js'
import { IDEMPOTENT, OriginUnavailableError } from './origin-client.js'
import type { OriginClient, OriginResponse } from './origin-client.js'
import type { Purger } from './purger.js'
import { forwardInterim, sendStream } from './respond.js'

/** Methods RFC 9110 §9.2.1 calls safe; every other method invalidates (RFC 9111 §4.4). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Up to this many bytes, an idempotent request's body is read whole before it is sent. */
const REPLAYABLE_BODY_BYTES = 64 * 1024

/** How a passed request ended, for the edge's counters and access log. */
export interface PassOutcome {
  readonly result: EdgeResult
  readonly status: number
  readonly bytes: number
}

/** What the pass path needs from the edge. */
export interface PassDeps {
  readonly options: ResolvedEdgeOptions
  readonly origin: OriginClient
  readonly forward: ForwardContext
  readonly counters: EdgeCounters
  readonly purger: Purger
  readonly clock: Clock
  readonly logger: Logger
  /** Answers an origin failure (502 / 503 / 504). */
  originError(res: ServerResponse, error: OriginUnavailableError): void
}

/**
 * Forwards a request without the cache (unsafe methods, bodies, ranges on a miss, preconditions):
 * streamed both ways, never stored. After a 2xx/3xx answer to an unsafe method, the URL and its
 * same-origin `Location` / `Content-Location` are invalidated here and on the bus (RFC 9111 §4.4).
 */
export async function passThrough(deps: PassDeps, req: IncomingMessage, res: ServerResponse, behavior: CompiledBehavior, path: string,
  rawQuery: string, hasBody: boolean): Promise<PassOutcome> {
  deps.counters.passes++
  const method = req.method ?? 'GET'
  const query = behavior.query(rawQuery)
  const headers = forwardHeaders(req, behavior, true, deps.forward)
  let body: Readable | Buffer | undefined = hasBody ? req : undefined
  if (hasBody && isReplayable(req)) {
    body = await readWhole(req)
    // The client went away before its body was complete: nothing to send, nobody to answer.
    if (body === undefined) return { result: 'aborted', status: 0, bytes: 0 }
  }
  let response: OriginResponse
  try {
    response = await deps.origin.send({
      method, path: query === '' ? path : `${path}?${query}`, headers, body,
      onInformation: (status, raw) => { forwardInterim(res, status, raw) },
    })
  } catch (error) {
    if (!(error instanceof OriginUnavailableError)) throw error
    if (error.reason === 'breaker-open') deps.counters.originRejected++
    deps.originError(res, error)
    return { result: 'error', status: res.statusCode, bytes: 0 }
  }
  const cleaned = stripHopByHop(response.headers)
  if (!SAFE_METHODS.has(method) && response.status >= 200 && response.status < 400) {
    const paths = [query === '' ? path : `${path}?${query}`]
    for (const name of ['location', 'content-location']) {
      const value = getAll(cleaned, name)[0]
      const target = value === undefined ? undefined : sameOriginPath(value, req)
      if (target !== undefined) paths.push(target)
    }
    await invalidateAfterUnsafe(deps, paths)
  }
  res.on('close', () => { if (!res.writableFinished) response.stream.destroy() })
  const bytes = await sendStream(req, res, response, cleaned, undefined, 'PASS')
  return { result: 'pass', status: response.status, bytes }
}

/**
 * A small body of an idempotent request (RFC 9110 §9.2.2: PUT, DELETE, a GET with a body) is read
 * whole before it is sent, as nginx's `proxy_request_buffering` does, so that a keep-alive
 * connection the origin closes just as it is reused can be retried on a fresh one (origin-client.ts)
 * instead of turning a routine race into a 502. Larger or chunked bodies, and non-idempotent methods,
 * are streamed through and never sent twice.
 */
function isReplayable(req: IncomingMessage): boolean {
  if (!IDEMPOTENT.has(req.method ?? '') || req.headers['transfer-encoding'] !== undefined) return false
  const length = Number(req.headers['content-length'])
  return Number.isSafeInteger(length) && length <= REPLAYABLE_BODY_BYTES
}

function readWhole(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    req.once('end', () => { resolve(Buffer.concat(chunks)) })
    req.once('close', () => { if (!req.complete) resolve(undefined) })
    req.once('error', () => { resolve(undefined) })
  })
}

async function invalidateAfterUnsafe(deps: PassDeps, paths: readonly string[]): Promise<void> {
  const unique = [...new Set(paths)]
  await deps.purger.apply(deps.purger.selector([], unique, [], false), false, 'unsafe-method')
  const bus = deps.options.bus
  if (bus === undefined || !deps.options.publishUnsafeInvalidations) return
  bus.publish({ urls: unique, origin: deps.options.id, at: deps.clock.now() }).catch((error: unknown) => {
    deps.logger.warn({ error: (error as Error).message }, 'edge: could not publish an invalidation after an unsafe method')
  })
}
