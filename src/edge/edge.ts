import http from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Clock } from '../ports/clock.js'
import { systemClock } from '../core/clock.js'
import { CircuitBreaker } from '../core/circuit-breaker.js'
import type { Logger } from '../ports/logger.js'
import { consoleLogger } from '../core/logger.js'
import { AccessLog } from './access-log.js'
import { handleAdmin } from './admin.js'
import type { AdminDeps } from './admin.js'
import { BehaviorTable } from './behavior.js'
import type { CompiledBehavior } from './behavior.js'
import { parseDirectives } from './cache-control.js'
import type { Directives } from './cache-control.js'
import { hasStatePreconditions } from './conditional.js'
import { edgeStats } from './edge-stats.js'
import type { EdgeStorage } from './edge-storage.js'
import { OriginFetcher, effectiveFreshUntil, toShared } from './fetcher.js'
import type { Ctx, LeaderResult, SharedResult } from './fetcher.js'
import { Flights } from './flights.js'
import { isLoop } from './forward.js'
import type { ForwardContext } from './forward.js'
import { FLAG_MUST_REVALIDATE } from './freshness.js'
import { HitForPass } from './hit-for-pass.js'
import { HOP_AUTH_HEADER, HOP_HEADER, hopTrusted } from './hop-auth.js'
import type { EdgeResult, EdgeStats } from './metrics.js'
import { EdgeCounters, edgeChannels } from './metrics.js'
import { openStorage } from './open-storage.js'
import type { EdgeOptions, ResolvedEdgeOptions } from './options.js'
import { resolveEdgeOptions } from './options.js'
import { OriginClient } from './origin-client.js'
import type { OriginUnavailableError } from './origin-client.js'
import { passThrough } from './pass-through.js'
import type { PassDeps } from './pass-through.js'
import type { PurgeRequest } from './purge.js'
import { parsePurgeRequest } from './purge.js'
import { Purger } from './purger.js'
import { framingError } from './request-checks.js'
import { requestAllowsFresh, requestAllowsStale } from './request-directives.js'
import { sendError, sendOriginError, sendStored, sendStream } from './respond.js'
import type { EdgeRecord, StoredResponse } from './stored-response.js'
import { VARIANT_SEPARATOR } from './stored-response.js'
import { TokenBucket } from './token-bucket.js'
import { varyKey } from './vary.js'
import { baseUrl, closeServer, listenOn, refuseMalformed } from './listener.js'


/**
 * The edge: a shared HTTP cache (RFC 9111) in front of one origin. See docs/edge.md.
 *
 * Request path: checks → behavior → key → storage. A fresh hit is written from memory without a
 * promise. A miss joins the in-flight fetch for its key (collapsing, bounded) or starts one; the
 * response is stored when RFC 9111 and the behavior allow, streamed through otherwise. Purges (API,
 * bus, unsafe methods) remove or mark stale by tag, URL or prefix, cancel the fills they touch, and
 * a fence stops fills that started before a purge from storing what it removed.
 */
export class Edge {
  readonly id: string
  readonly options: ResolvedEdgeOptions
  /** The HTTP server (not listening until {@link listen}); its `request` handler is {@link handle}. */
  readonly server: Server
  /** The admin listener (metrics, stats, health), when `options.admin` is set; its handler is {@link adminHandle}. */
  readonly adminServer: Server | undefined
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #counters = new EdgeCounters()
  readonly #breaker: CircuitBreaker
  readonly #origin: OriginClient
  readonly #behaviors: BehaviorTable
  readonly #purger: Purger
  readonly #flights = new Flights()
  readonly #fetcher: OriginFetcher
  readonly #adminDeps: AdminDeps
  readonly #passDeps: PassDeps
  readonly #hitForPass: HitForPass
  readonly #forward: ForwardContext
  readonly #adminPrefix: string
  readonly #accessLog: AccessLog | undefined
  readonly #ready: Promise<void>
  #storage: EdgeStorage | undefined
  #unsubscribe: (() => void) | undefined
  #closed = false

  constructor(options: EdgeOptions) {
    this.options = resolveEdgeOptions(options)
    const o = this.options
    this.id = o.id
    this.#clock = o.clock ?? systemClock
    this.#logger = o.logger ?? consoleLogger
    this.#behaviors = new BehaviorTable(o.behaviors)
    this.#hitForPass = new HitForPass(o.hitForPass, this.#clock)
    this.#adminPrefix = o.adminPrefix
    this.#accessLog = o.accessLog === false ? undefined : new AccessLog(o.accessLog, this.#logger, this.#clock)
    this.#breaker = new CircuitBreaker(o.breakerThreshold, o.breakerCooldown, this.#clock, (from, to) => {
      if (to === 'open') this.#logger.warn({ origin: o.origin.origin }, 'edge: origin failing, circuit breaker open')
      else if (to === 'closed') this.#logger.warn({ origin: o.origin.origin }, 'edge: origin answering again, circuit breaker closed')
      if (edgeChannels.breaker.hasSubscribers) edgeChannels.breaker.publish({ from, to })
    })
    const c = this.#counters
    this.#origin = new OriginClient(o.origin, this.#clock, o.originTimeout, o.originBodyTimeout, this.#breaker, o.originMaxSockets, {
      onLatency: (ms, status, outcome) => {
        c.originRequests++
        if (outcome === 'timeout') c.originTimeouts++
        else if (outcome === 'network') c.originErrors++
        else c.observeOrigin(ms)
        if (edgeChannels.origin.hasSubscribers) edgeChannels.origin.publish({ outcome: outcome === 'network' ? 'error' : outcome, status, durationMs: ms })
      },
      onBodyTimeout: () => { c.originBodyTimeouts++ },
    })
    this.#purger = new Purger({
      id: o.id, behaviors: this.#behaviors, clock: this.#clock, counters: c, logger: this.#logger, fenceWindowMs: o.purgeFence,
      storage: async () => {
        await this.#ready
        return this.#storage as EdgeStorage
      },
      cancelFills: (selector) => { c.fillsCancelled += this.#flights.cancel(selector) },
    })
    this.#forward = { originHost: this.#origin.host, surrogateId: o.surrogateId, edgeId: o.id, xForwardedFor: o.xForwardedFor, hopSecret: o.hopSecret }
    this.#fetcher = new OriginFetcher({
      options: o, origin: this.#origin, counters: c, fence: this.#purger.fence, clock: this.#clock, forward: this.#forward,
      storage: () => this.#storage as EdgeStorage,
      staleBefore: () => this.#purger.staleBefore,
    })
    this.#passDeps = {
      options: o, origin: this.#origin, forward: this.#forward, counters: c, purger: this.#purger, clock: this.#clock, logger: this.#logger,
      originError: (res, error) => this.#originError(res, error),
    }
    this.#adminDeps = {
      prefix: o.adminPrefix,
      purgeToken: o.purgeToken,
      metricsEndpoint: o.metricsEndpoint,
      id: o.id,
      maxBodyBytes: o.purge.maxBodyBytes,
      rate: new TokenBucket(o.purge.ratePerSecond, o.purge.burst, this.#clock),
      purge: (request) => this.purge(request),
      stats: () => this.stats(),
      refused: () => { c.purgeRefused++ },
      rateLimited: () => { c.purgesRateLimited++ },
      // Real time, not the injected clock: this paces a client, it decides nothing about the cache.
      hold: (ms) => new Promise((resolve) => { setTimeout(resolve, ms).unref() }),
    }
    const opened = openStorage(o, this.#clock, this.#logger)
    if (opened instanceof Promise) {
      this.#ready = opened.then((storage) => { this.#storage = storage })
    } else {
      this.#storage = opened
      this.#ready = Promise.resolve()
    }
    this.server = http.createServer({
      maxHeaderSize: o.maxHeaderBytes,
      insecureHTTPParser: false,
      // Uploads pass through: the whole request may take as long as Node's default allows.
      requestTimeout: 300_000,
      headersTimeout: 20_000,
      keepAliveTimeout: 5_000,
    }, this.handle)
    refuseMalformed(this.server, c)
    this.adminServer = o.admin === undefined ? undefined : http.createServer({ maxHeaderSize: 8 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 }, this.adminHandle)
    if (o.bus !== undefined) this.#unsubscribe = o.bus.subscribe(this.#purger.listener())
  }

  /** Resolves when storage is ready (immediately for memory storage). */
  ready(): Promise<void> {
    return this.#ready
  }

  /** Starts listening (and the admin listener, when configured); resolves with the base URL (`http://host:port`). */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await this.#ready
    await listenOn(this.server, port, host)
    const admin = this.options.admin
    if (this.adminServer !== undefined && admin !== undefined) {
      try {
        await listenOn(this.adminServer, admin.port, admin.host)
      } catch (error) {
        // Both listeners or neither: a public port left open would serve without its admin side.
        await closeServer(this.server)
        throw error
      }
    }
    return this.url
  }

  /** The base URL while listening. */
  get url(): string {
    return baseUrl(this.server)
  }

  /** The admin listener's base URL while listening (throws when there is none). */
  get adminUrl(): string {
    if (this.adminServer === undefined) throw new Error('edge has no admin listener (options.admin)')
    return baseUrl(this.adminServer)
  }

  /** Stops listening, closes idle and active connections, the origin pool, storage and the bus subscription. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe?.()
    await Promise.all([closeServer(this.server), closeServer(this.adminServer)])
    this.#origin.close()
    await this.#ready.catch(() => {})
    await this.#storage?.close()
  }

  /** Counters since creation. */
  stats(): EdgeStats {
    return edgeStats(this.id, this.#counters, this.#breaker.state, this.#storage?.stats())
  }

  /**
   * Purges on this node and publishes the purge on the bus (when there is one), so every edge node
   * and every app cache following the bus applies it too. Resolves with the entries purged here.
   * Throws `E_PURGE_FAILED` when the bus refused the message (the local purge is done).
   */
  purge(request: Partial<PurgeRequest>): Promise<{ entries: number; published: boolean }> {
    return this.#purger.purgeAndPublish(parsePurgeRequest(request), this.options.bus)
  }

  /** The request listener (use it to mount the edge on a server of your own). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#counters.requests++
    this.#accessLog?.begin(req, res, req.url ?? '')
    try {
      this.#route(req, res)
    } catch (error) {
      this.#internalError(res, error)
    }
  }

  /** The admin listener's request handler: the edge's own endpoints only, nothing from the cache. */
  readonly adminHandle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#accessLog?.begin(req, res, req.url ?? '')
    const url = req.url ?? ''
    if (!url.startsWith(this.#adminPrefix)) {
      req.resume()
      this.#reject(res, 404, `only ${this.#adminPrefix}* is served here`)
      return
    }
    handleAdmin(req, res, url, this.#adminDeps, true).then((bytes) => this.#done(res, 'admin', undefined, res.statusCode, bytes),
      (error: unknown) => this.#internalError(res, error))
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    let url = req.url ?? ''
    const method = req.method ?? 'GET'
    if (url.length > this.options.maxUrlBytes) return this.#reject(res, 414, 'request-target too long')
    // Origin-form only (RFC 9112 §3.2.1): absolute-form and authority-form are for forward proxies.
    if (url.charCodeAt(0) !== 47) return this.#reject(res, 400, 'request-target must start with "/"')
    // A fragment is never part of a request-target (RFC 9112 §3.2, RFC 9110 §4.2.5): a client that
    // sends one gets neither a key of its own nor a forwarded fragment.
    const hash = url.indexOf('#')
    if (hash !== -1) url = url.slice(0, hash)
    const framing = framingError(req)
    if (framing !== undefined) return this.#reject(res, framing[0], framing[1])
    if (url.startsWith(this.#adminPrefix)) {
      handleAdmin(req, res, url, this.#adminDeps, false).then((bytes) => this.#done(res, 'admin', undefined, res.statusCode, bytes),
        (error: unknown) => this.#internalError(res, error))
      return
    }
    const headers = req.headers
    if (headers[HOP_HEADER] !== undefined) {
      // This edge's own id coming back is a loop (it only hurts the request that carries it).
      if (isLoop(headers, this.id)) return this.#reject(res, 508, 'forwarding loop: this edge is already in X-Tiercache-Hop')
      // Only an edge proving the shared hop secret is a hop: anyone else's hop list is dropped, so
      // surrogate keys, Cache-Tag and Surrogate-Control are never written back to a client.
      if (!hopTrusted(headers, this.options.hopSecret)) delete headers[HOP_HEADER]
    }
    if (headers[HOP_AUTH_HEADER] !== undefined) delete headers[HOP_AUTH_HEADER]
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const rawQuery = q === -1 ? '' : url.slice(q + 1)
    const behavior = this.#behaviors.match(path)
    const o = behavior.options
    if (o.allowedMethods !== 'all' && !o.allowedMethods.has(method)) {
      return this.#reject(res, 403, `method ${method} is not allowed on ${o.pathPattern}`, [['allow', [...o.allowedMethods].join(', ')]])
    }
    const hasBody = (headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined
    if (!o.cachedMethods.has(method) || hasBody || (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS')) {
      this.#pass(req, res, behavior, path, rawQuery, hasBody)
      return
    }
    const urlPart = behavior.urlPart(path, rawQuery)
    const key = behavior.key(method, urlPart, headers)
    const storage = this.#storage
    if (storage === undefined) {
      this.#ready.then(() => this.#route(req, res)).catch((error: unknown) => this.#internalError(res, error))
      return
    }
    const found = storage.get(key)
    if (found instanceof Promise) {
      found.then((record) => this.#lookup(req, res, behavior, method, urlPart, key, record))
        .catch((error: unknown) => this.#internalError(res, error))
      return
    }
    this.#lookup(req, res, behavior, method, urlPart, key, found)
  }

  #lookup(req: IncomingMessage, res: ServerResponse, behavior: CompiledBehavior, method: string, urlPart: string, key: string,
    record: EdgeRecord | undefined): void {
    if (record?.kind === 'vary') {
      const variantKey = key + VARIANT_SEPARATOR + varyKey(record.names, req.headers)
      const found = (this.#storage as EdgeStorage).get(variantKey)
      if (found instanceof Promise) {
        found.then((variant) => this.#decide(req, res, behavior, method, urlPart, key, variant?.kind === 'response' ? variant : undefined))
          .catch((error: unknown) => this.#internalError(res, error))
        return
      }
      return this.#decide(req, res, behavior, method, urlPart, key, found?.kind === 'response' ? found : undefined)
    }
    this.#decide(req, res, behavior, method, urlPart, key, record)
  }

  #decide(req: IncomingMessage, res: ServerResponse, behavior: CompiledBehavior, method: string, urlPart: string, key: string,
    stored: StoredResponse | undefined): void {
    const now = this.#clock.now()
    const headers = req.headers
    const honor = this.options.honorRequestCacheControl
    const requestCc: Directives | undefined = honor && (headers['cache-control'] !== undefined || headers.pragma !== undefined)
      ? parseDirectives(headers['cache-control'] ?? (headers.pragma?.toLowerCase().includes('no-cache') === true ? 'no-cache' : ''))
      : undefined
    if (stored !== undefined) {
      const freshUntil = effectiveFreshUntil(stored, this.#purger.staleBefore)
      if (now < freshUntil && (requestCc === undefined || requestAllowsFresh(requestCc, stored, now, freshUntil))) {
        this.#counters.hits++
        this.#done(res, 'hit', behavior, stored.status, sendStored(req, res, stored, behavior, now, 'HIT'))
        return
      }
      const staleFor = now - freshUntil
      // Stale only: a fresh response the request's own directives refused is revalidated, not served.
      const mayServeStale = staleFor >= 0 && (stored.flags & FLAG_MUST_REVALIDATE) === 0
      if (mayServeStale && (staleFor < stored.staleWhileRevalidate || (requestCc !== undefined && requestAllowsStale(requestCc, staleFor)))) {
        this.#counters.swr++
        this.#done(res, 'stale', behavior, stored.status, sendStored(req, res, stored, behavior, now, 'STALE'))
        this.#revalidateInBackground(req, behavior, urlPart, key, stored)
        return
      }
    }
    if (requestCc?.has('only-if-cached') === true) return this.#reject(res, 504, 'only-if-cached and nothing usable is stored')
    if (headers.range !== undefined || hasStatePreconditions(headers)) {
      // A range on a miss, or state preconditions: forwarded as they are, never stored.
      const q = urlPart.indexOf('?')
      this.#pass(req, res, behavior, q === -1 ? urlPart : urlPart.slice(0, q), q === -1 ? '' : urlPart.slice(q + 1), false)
      return
    }
    const ctx: Ctx = {
      req, res, behavior, fetchMethod: method === 'OPTIONS' ? 'OPTIONS' : 'GET', urlPart, key,
      requestNoStore: requestCc?.has('no-store') === true,
    }
    this.#miss(ctx, stored, false).catch((error: unknown) => this.#internalError(res, error))
  }

  async #miss(ctx: Ctx, stale: StoredResponse | undefined, retried: boolean): Promise<void> {
    const now = this.#clock.now()
    if (this.#hitForPass.active(ctx.key, now)) {
      this.#counters.misses++
      await this.#answerLeader(ctx, await this.#fetcher.fetch(ctx, stale))
      return
    }
    const inFlight = this.#flights.get(ctx.key)
    if (inFlight !== undefined) {
      // Bounded: a fill stalled on a half-dead origin must not collect every request for its URL.
      if (inFlight.waiters >= this.options.maxWaitersPerFill) {
        this.#counters.waitersRefused++
        return this.#reject(ctx.res as ServerResponse, 503, 'too many requests are waiting for this URL', [['retry-after', '1']])
      }
      this.#counters.collapsed++
      inFlight.waiters++
      let shared: SharedResult
      try {
        shared = await inFlight.promise
      } finally {
        inFlight.waiters--
      }
      if (shared.kind === 'retry') return this.#retry(ctx, retried)
      await this.#answerFollower(ctx, shared)
      return
    }
    this.#counters.misses++
    const flight = this.#flights.start(ctx.key, ctx.urlPart)
    let result: LeaderResult
    try {
      result = await this.#fetcher.fetch(ctx, stale, flight)
    } catch (error) {
      this.#flights.finish(flight, { kind: 'pass' })
      throw error
    }
    if (flight.cancelled) {
      if (result.kind === 'stream') result.response.stream.destroy()
      return this.#retry(ctx, retried)
    }
    this.#flights.finish(flight, toShared(result))
    if (result.kind === 'stream') this.#hitForPass.mark(ctx.key)
    await this.#answerLeader(ctx, result)
  }

  /**
   * A purge cancelled the fetch this request was waiting for: what it would have got was purged.
   * It waits on (or starts) a fresh fetch once, without the stale copy the purge may have removed;
   * a second cancellation (a purge storm) gets 503.
   */
  #retry(ctx: Ctx, retried: boolean): Promise<void> {
    if (retried) {
      this.#reject(ctx.res as ServerResponse, 503, 'purged while being fetched, twice', [['retry-after', '1']])
      return Promise.resolve()
    }
    return this.#miss(ctx, undefined, true)
  }

  async #answerLeader(ctx: Ctx, result: LeaderResult): Promise<void> {
    const res = ctx.res as ServerResponse
    const b = ctx.behavior
    if (res.destroyed) {
      // The client went away while waiting: the fetch still served storage and the other waiters.
      if (result.kind === 'stream') result.response.stream.destroy()
      this.#done(res, 'aborted', b, 0, 0)
      return
    }
    const now = this.#clock.now()
    switch (result.kind) {
      case 'stored':
        this.#done(res, result.xCache === 'REVALIDATED' ? 'revalidated' : 'miss', b, result.stored.status,
          sendStored(ctx.req, res, result.stored, b, now, result.xCache, result.extra))
        return
      case 'stale':
        this.#counters.sie++
        this.#done(res, 'stale', b, result.stored.status, sendStored(ctx.req, res, result.stored, b, now, 'STALE'))
        return
      case 'stream':
        this.#done(res, 'miss', b, result.response.status, await sendStream(ctx.req, res, result.response, result.headers, result.head, 'MISS'))
        return
      case 'error':
        this.#originError(res, result.error)
        this.#done(res, 'error', b, res.statusCode, 0)
    }
  }

  async #answerFollower(ctx: Ctx, shared: SharedResult): Promise<void> {
    const res = ctx.res as ServerResponse
    if (res.destroyed) {
      this.#done(res, 'aborted', ctx.behavior, 0, 0)
      return
    }
    const now = this.#clock.now()
    switch (shared.kind) {
      case 'stored': {
        const s = shared.stored
        if (s.vary === undefined || varyKey(s.vary, ctx.req.headers) === shared.varyValue) {
          this.#done(res, 'collapsed', ctx.behavior, s.status, sendStored(ctx.req, res, s, ctx.behavior, now, 'COLLAPSED'))
          return
        }
        break
      }
      case 'stale':
        this.#counters.sie++
        this.#done(res, 'stale', ctx.behavior, shared.stored.status, sendStored(ctx.req, res, shared.stored, ctx.behavior, now, 'STALE'))
        return
      case 'error':
        this.#originError(res, shared.error)
        this.#done(res, 'error', ctx.behavior, res.statusCode, 0)
        return
      case 'pass':
      case 'retry':
        break
    }
    // The shared response is not for this request (private, too large, another variant): fetch alone.
    this.#counters.misses++
    await this.#answerLeader(ctx, await this.#fetcher.fetch(ctx, undefined))
  }

  #revalidateInBackground(req: IncomingMessage, behavior: CompiledBehavior, urlPart: string, key: string, stored: StoredResponse): void {
    if (this.#flights.has(key)) return
    const ctx: Ctx = { req, res: undefined, behavior, fetchMethod: req.method === 'OPTIONS' ? 'OPTIONS' : 'GET', urlPart, key, requestNoStore: false }
    const flight = this.#flights.start(key, urlPart)
    this.#fetcher.fetch(ctx, stored, flight).then((result) => {
      if (result.kind === 'stream') result.response.stream.destroy()
      this.#flights.finish(flight, flight.cancelled ? { kind: 'retry' } : toShared(result))
    }, (error: unknown) => {
      this.#logger.error({ error: (error as Error).message }, 'edge: background revalidation failed')
      this.#flights.finish(flight, { kind: 'pass' })
    })
  }

  #pass(req: IncomingMessage, res: ServerResponse, behavior: CompiledBehavior, path: string, rawQuery: string, hasBody: boolean): void {
    passThrough(this.#passDeps, req, res, behavior, path, rawQuery, hasBody)
      .then((outcome) => this.#done(res, outcome.result, behavior, outcome.status, outcome.bytes),
        (error: unknown) => this.#internalError(res, error))
  }

  #originError(res: ServerResponse, error: OriginUnavailableError): void {
    sendOriginError(res, error, this.options.breakerCooldown)
  }

  #reject(res: ServerResponse, status: number, message: string, extra?: readonly [string, string][]): void {
    this.#counters.rejected++
    // Whatever body the client sent is not read: close the connection after answering.
    res.shouldKeepAlive = false
    sendError(res, status, message, extra)
    this.#done(res, 'rejected', undefined, status, 0)
  }

  #internalError(res: ServerResponse, error: unknown): void {
    this.#logger.error({ error: error instanceof Error ? error.message : String(error) }, 'edge: internal error while answering a request')
    try {
      sendError(res, 502, 'edge error')
    } catch {
      res.destroy()
    }
    this.#done(res, 'error', undefined, 502, 0)
  }

  /** Every answered request passes here once: its result counter, bytes, access log, diagnostics. */
  #done(res: ServerResponse, result: EdgeResult, behavior: CompiledBehavior | undefined, status: number, bytes: number): void {
    const c = this.#counters
    c.results[result]++
    c.bytesServed += bytes
    if (result !== 'admin') c.answered(status)
    this.#accessLog?.answered(res, result, bytes)
    // The edge's own endpoints are counted, not published: subscribers watch the cache.
    if (result !== 'admin' && edgeChannels.request.hasSubscribers) edgeChannels.request.publish({ result, behavior: behavior?.options.pathPattern, status })
  }
}

/** Creates an edge (not yet listening: call `listen(port)`). Options are validated here. */
export function createEdge(options: EdgeOptions): Edge {
  return new Edge(options)
}
