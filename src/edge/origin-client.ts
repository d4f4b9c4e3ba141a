import http from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'
import type { Clock } from '../ports/clock.js'
import type { CircuitBreaker } from '../core/circuit-breaker.js'
import { TierCacheError } from '../core/errors.js'
import type { HeaderPair } from './header-list.js'
import { fromRawHeaders } from './header-list.js'

/** Methods that may be sent twice with the same effect as once (RFC 9110 §9.2.2). */
export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** Why the origin could not answer. */
export type OriginFailure = 'timeout' | 'network' | 'breaker-open'

/** The origin did not produce a response (`E_ORIGIN_UNAVAILABLE`); the edge answers 502/503/504 or stale. */
export class OriginUnavailableError extends TierCacheError {
  override readonly name = 'OriginUnavailableError'
  readonly reason: OriginFailure
  constructor(reason: OriginFailure, message: string, cause?: unknown) {
    super('E_ORIGIN_UNAVAILABLE', message, { reason }, cause === undefined ? undefined : { cause })
    this.reason = reason
  }
}

/** One request to the origin. */
export interface OriginRequest {
  readonly method: string
  /** Path and query to send. */
  readonly path: string
  readonly headers: OutgoingHttpHeaders
  /**
   * The client's body: a stream passed through as it arrives, or the whole of a small body read
   * beforehand (see pass-through.ts), which can be sent a second time.
   */
  readonly body?: Readable | Buffer | undefined
  /** Aborting it cancels the exchange: before the response the request fails, after it the body stream errors. */
  readonly signal?: AbortSignal | undefined
  /** Interim (1xx) responses as they arrive (RFC 9110 §15.2: passed on to the client, never stored). */
  readonly onInformation?: ((status: number, rawHeaders: readonly string[]) => void) | undefined
}

/** What the origin client reports: origin latency and outcomes, body stalls. */
export interface OriginEvents {
  onLatency(ms: number, status: number | undefined, outcome: 'response' | OriginFailure): void
  /** A response body went silent for longer than the body timeout and was abandoned. */
  onBodyTimeout(): void
}

/** The origin's answer: status, raw header lines, the body stream and the exchange times. */
export interface OriginResponse {
  readonly status: number
  readonly headers: HeaderPair[]
  readonly stream: IncomingMessage
  readonly requestTime: number
  readonly responseTime: number
}

/**
 * Sends requests to the origin over a keep-alive pool. The header wait is bounded by `timeoutMs`
 * and the silence between body chunks by `bodyTimeoutMs`, both on the injected clock (tests move
 * it); a circuit breaker stops sending after consecutive failures to reach the origin (timeouts,
 * refused or unreachable connections, stalled bodies), so a dead origin costs requests nothing but
 * the stale-or-error decision.
 */
export class OriginClient {
  readonly #origin: URL
  readonly #agent: http.Agent
  readonly #request: typeof http.request
  readonly #clock: Clock
  readonly #timeoutMs: number
  readonly #breaker: CircuitBreaker
  readonly #bodyTimeoutMs: number
  readonly #events: OriginEvents

  constructor(origin: URL, clock: Clock, timeoutMs: number, bodyTimeoutMs: number, breaker: CircuitBreaker, maxSockets: number, events: OriginEvents) {
    this.#origin = origin
    const secure = origin.protocol === 'https:'
    this.#agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: Math.min(maxSockets, 64) })
      : new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: Math.min(maxSockets, 64) })
    this.#request = secure ? https.request : http.request
    this.#clock = clock
    this.#timeoutMs = timeoutMs
    this.#breaker = breaker
    this.#bodyTimeoutMs = bodyTimeoutMs
    this.#events = events
  }

  /** The `Host` value for the origin. */
  get host(): string {
    return this.#origin.host
  }

  send(spec: OriginRequest): Promise<OriginResponse> {
    if (spec.signal?.aborted === true) return Promise.reject(cancelled())
    if (!this.#breaker.allow()) {
      if (spec.body instanceof Readable) spec.body.resume()
      return Promise.reject(new OriginUnavailableError('breaker-open', 'origin circuit breaker is open'))
    }
    return this.#attempt(spec, true)
  }

  #attempt(spec: OriginRequest, mayRetry: boolean): Promise<OriginResponse> {
    const requestTime = this.#clock.now()
    const started = performance.now()
    const basePath = this.#origin.pathname === '/' ? '' : this.#origin.pathname.replace(/\/$/, '')
    return new Promise<OriginResponse>((resolve, reject) => {
      let done = false
      let connected = false
      const req = this.#request({
        protocol: this.#origin.protocol,
        hostname: this.#origin.hostname,
        port: this.#origin.port,
        method: spec.method,
        path: basePath + spec.path,
        headers: spec.headers,
        agent: this.#agent,
      })
      req.on('socket', (socket) => {
        if (req.reusedSocket || !socket.connecting) connected = true
        else socket.once('connect', () => { connected = true })
      })
      const timer = this.#clock.setTimeout(() => {
        if (done) return
        done = true
        this.#breaker.failure()
        this.#events.onLatency(performance.now() - started, undefined, 'timeout')
        req.destroy()
        if (spec.body instanceof Readable) spec.body.unpipe(req)
        reject(new OriginUnavailableError('timeout', `origin did not answer within ${this.#timeoutMs}ms`))
      }, this.#timeoutMs)
      req.on('response', (res: IncomingMessage) => {
        if (done) {
          res.destroy()
          return
        }
        done = true
        this.#clock.clearTimeout(timer)
        this.#breaker.success()
        this.#events.onLatency(performance.now() - started, res.statusCode, 'response')
        // The body may be destroyed with an error (stall, purge) while nobody reads it (a body
        // drained with resume()): an 'error' with no listener would end the process.
        res.on('error', ignore)
        this.#watchBody(res, req)
        if (spec.signal !== undefined) {
          const signal = spec.signal
          const onAbort = (): void => { res.destroy(cancelled()) }
          signal.addEventListener('abort', onAbort, { once: true })
          res.once('close', () => signal.removeEventListener('abort', onAbort))
        }
        resolve({
          status: res.statusCode ?? 502,
          headers: fromRawHeaders(res.rawHeaders),
          stream: res,
          requestTime,
          responseTime: this.#clock.now(),
        })
      })
      if (spec.onInformation !== undefined) {
        const onInformation = spec.onInformation
        req.on('information', (info: http.InformationEvent) => { if (!done) onInformation(info.statusCode, info.rawHeaders) })
      }
      if (spec.signal !== undefined) {
        const signal = spec.signal
        const onAbort = (): void => {
          if (done) return
          done = true
          this.#clock.clearTimeout(timer)
          req.destroy()
          if (spec.body instanceof Readable) spec.body.unpipe(req)
          reject(cancelled())
        }
        signal.addEventListener('abort', onAbort, { once: true })
        req.once('close', () => signal.removeEventListener('abort', onAbort))
      }
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (done) return
        done = true
        this.#clock.clearTimeout(timer)
        // A keep-alive socket the origin closed just as it was reused: most likely the request
        // never reached the application, but that cannot be known, so only an idempotent request
        // (RFC 9110 §9.2.2) whose body, if any, is still at hand is sent again, once, on a fresh
        // connection. A POST, or a body already streamed away, fails as the origin's failure.
        if (mayRetry && req.reusedSocket && !(spec.body instanceof Readable) && IDEMPOTENT.has(spec.method)
          && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
          this.#attempt(spec, false).then(resolve, reject)
          return
        }
        // Only a failure to reach the origin at all counts toward the breaker; a connection the
        // origin resets after taking a request is that request's failure, not an outage.
        if (!connected) this.#breaker.failure()
        this.#events.onLatency(performance.now() - started, undefined, 'network')
        reject(new OriginUnavailableError('network', `origin request failed: ${error.message}`, error))
      })
      if (spec.body === undefined || Buffer.isBuffer(spec.body)) {
        req.end(spec.body)
      } else {
        spec.body.on('error', () => req.destroy())
        spec.body.pipe(req)
      }
    })
  }

  close(): void {
    this.#agent.destroy()
  }

  /**
   * The body idle timeout: the time since the last bytes arrived on the response's socket, counted
   * only while the body is being read (a consumer that pauses it for back-pressure, or has not
   * started reading, is not the origin's silence). A stalled body is destroyed with a timeout
   * error, which a fill turns into stale-or-504 and a streamed response into a cut-off one.
   */
  #watchBody(res: IncomingMessage, req: http.ClientRequest): void {
    const socket = req.socket
    if (socket === null || res.complete) return
    const idleMs = this.#bodyTimeoutMs
    let last = this.#clock.now()
    const touch = (): void => { last = this.#clock.now() }
    socket.on('data', touch)
    let timer: ReturnType<Clock['setTimeout']>
    const check = (): void => {
      const now = this.#clock.now()
      if (res.readableFlowing !== true) last = now
      const idle = now - last
      if (idle < idleMs) {
        timer = this.#clock.setTimeout(check, idleMs - idle)
        return
      }
      this.#breaker.failure()
      this.#events.onBodyTimeout()
      res.destroy(new OriginUnavailableError('timeout', `origin body stalled: nothing for ${idleMs}ms`))
    }
    timer = this.#clock.setTimeout(check, idleMs)
    res.once('close', () => {
      this.#clock.clearTimeout(timer)
      socket.off('data', touch)
    })
  }
}

function ignore(): void {}

function cancelled(): OriginUnavailableError {
  return new OriginUnavailableError('network', 'origin fetch cancelled: a purge removed what it was filling')
}

/** A body read up to a limit: all of it, or the part read before the limit and the rest still flowing. */
export type ReadBody =
  | { readonly complete: true; readonly body: Buffer }
  | { readonly complete: false; readonly head: Buffer[] }

/** Reads a body into memory unless it exceeds `limit` bytes; then stops (the stream stays paused). */
export function readBody(stream: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise<ReadBody>((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      length += chunk.length
      if (length > limit) {
        cleanup()
        stream.pause()
        resolve({ complete: false, head: chunks })
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve({ complete: true, body: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, length) })
    }
    const onError = (error: Error): void => {
      cleanup()
      reject(error)
    }
    // An origin that closes mid-body leaves the message incomplete without an 'error' in some versions.
    const onClose = (): void => {
      if (!stream.complete) onError(new Error('origin closed the connection before the body ended'))
    }
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      stream.off('close', onClose)
    }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}
