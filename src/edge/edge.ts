import http from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Clock } from '../ports/clock.js'
import { systemClock } from '../core/clock.js'
import { CircuitBreaker } from '../core/circuit-breaker.js'
import type { Logger } from '../ports/logger.js'
import { consoleLogger } from '../core/logger.js'
import { handleAdmin } from './admin.js'
import type { AdminDeps } from './admin.js'
import { BehaviorTable } from './behavior.js'
import type { CompiledBehavior } from './behavior.js'
import { parseDirectives } from './cache-control.js'
import type { Directives } from './cache-control.js'
import { hasStatePreconditions } from './conditional.js'
import type { EdgeStorage } from './edge-storage.js'
import { PurgeError } from './errors.js'
import { OriginFetcher, effectiveFreshUntil, toShared } from './fetcher.js'
import type { Ctx, LeaderResult, SharedResult } from './fetcher.js'
import { forwardHeaders, isLoop, sameOriginPath } from './forward.js'
import type { ForwardContext } from './forward.js'
import { FLAG_MUST_REVALIDATE } from './freshness.js'
import { getAll, stripHopByHop } from './header-list.js'
import { MemoryStorage } from './memory-storage.js'
import type { EdgeResult, EdgeStats } from './metrics.js'
import { EdgeCounters, edgeChannels } from './metrics.js'
import type { EdgeOptions, ResolvedEdgeOptions } from './options.js'
import { EDGE_DEFAULTS, resolveEdgeOptions } from './options.js'
import { OriginClient, OriginUnavailableError } from './origin-client.js'
import type { OriginResponse } from './origin-client.js'
import type { PurgeRequest } from './purge.js'
import { parsePurgeRequest } from './purge.js'
import { Purger } from './purger.js'
import { requestAllowsFresh, requestAllowsStale } from './request-directives.js'
import { sendError, sendStored, sendStream } from './respond.js'
import type { EdgeRecord, StoredResponse } from './stored-response.js'
import { VARIANT_SEPARATOR } from './stored-response.js'
import { varyKey } from './vary.js'

/** Methods RFC 9110 §9.2.1 calls safe; every other method invalidates (RFC 9111 §4.4). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
const MAX_HIT_FOR_PASS = 10_000

/**
 * The edge: a shared HTTP cache (RFC 9111) in front of one origin. See docs/edge.md.
 *
 * Request path: behavior → key → storage. A fresh hit is written from memory without a promise.
 * A miss joins the in-flight fetch for its key (collapsing) or starts one; the response is stored
 * when RFC 9111 and the behavior allow, streamed through otherwise. Purges (API, bus, unsafe
 * methods) remove or mark stale by tag, URL or prefix, and a fence stops fills that started before
 * a purge from storing what it removed.
 */
export class Edge {
  readonly id: string
  readonly options: ResolvedEdgeOptions
  /** The HTTP server (not listening until {@link listen}); its `request` handler is {@link handle}. */
  readonly server: Server
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #counters = new EdgeCounters()
  readonly #breaker: CircuitBreaker
  readonly #origin: OriginClient
  readonly #behaviors: BehaviorTable
  readonly #purger: Purger
  readonly #flights = new Map<string, Promise<SharedResult>>()
  readonly #fetcher: OriginFetcher
  readonly #adminDeps: AdminDeps
  readonly #hitForPass = new Map<string, number>()
  readonly #forward: ForwardContext
  readonly #adminPrefix: string
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
    this.#adminPrefix = o.adminPrefix
    this.#breaker = new CircuitBreaker(o.breakerThreshold, o.breakerCooldown, this.#clock, (from, to) => {
      if (to === 'open') this.#logger.warn({ origin: o.origin.origin }, 'edge: origin failing, circuit breaker open')
      else if (to === 'closed') this.#logger.warn({ origin: o.origin.origin }, 'edge: origin answering again, circuit breaker closed')
      if (edgeChannels.breaker.hasSubscribers) edgeChannels.breaker.publish({ from, to })
    })
    this.#origin = new OriginClient(o.origin, this.#clock, o.originTimeout, this.#breaker, o.originMaxSockets, (ms, status, outcome) => {
      const c = this.#counters
      c.originRequests++
      if (outcome === 'timeout') c.originTimeouts++
      else if (outcome === 'network') c.originErrors++
      else c.observeOrigin(ms)
      if (edgeChannels.origin.hasSubscribers) edgeChannels.origin.publish({ outcome: outcome === 'network' ? 'error' : outcome, status, durationMs: ms })
    })
    this.#purger = new Purger({
      id: o.id, behaviors: this.#behaviors, clock: this.#clock, counters: this.#counters, logger: this.#logger, fenceWindowMs: o.purgeFence,
      storage: async () => {
        await this.#ready
        return this.#storage as EdgeStorage
      },
    })
    this.#forward = { originHost: this.#origin.host, surrogateId: o.surrogateId, edgeId: o.id, xForwardedFor: o.xForwardedFor }
    this.#fetcher = new OriginFetcher({
      options: o, origin: this.#origin, counters: this.#counters, fence: this.#purger.fence, clock: this.#clock, forward: this.#forward,
      storage: () => this.#storage as EdgeStorage,
      staleBefore: () => this.#purger.staleBefore,
    })
    this.#adminDeps = {
      prefix: o.adminPrefix,
      purgeToken: o.purgeToken,
      metricsEndpoint: o.metricsEndpoint,
      id: o.id,
      purge: (request) => this.purge(request),
      stats: () => this.stats(),
      refused: () => { this.#counters.purgeRefused++ },
      reject: (res, status, message, extra) => this.#reject(res, status, message, extra),
    }
    const storage = o.storage
    if (storage.type === 'redis') {
      this.#ready = this.#openRedis(storage)
    } else {
      this.#storage = new MemoryStorage(storage.maxBytes ?? EDGE_DEFAULTS.memoryMaxBytes, this.#clock, storage.policy)
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
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      // Malformed requests never reach the handler: answer 400 (431 for oversized headers) and close.
      this.#counters.rejected++
      if (error.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy()
        return
      }
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    })
    if (o.bus !== undefined) this.#unsubscribe = o.bus.subscribe(this.#purger.listener())
  }

  /** Resolves when storage is ready (immediately for memory storage). */
  ready(): Promise<void> {
    return this.#ready
  }

  /** Starts listening; resolves with the base URL (`http://host:port`). */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await this.#ready
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    return this.url
  }

  /** The base URL while listening. */
  get url(): string {
    const address = this.server.address() as AddressInfo | null
    if (address === null) throw new Error('edge is not listening')
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}`
  }

  /** Stops listening, closes idle and active connections, the origin pool, storage and the bus subscription. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe?.()
    await new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve()
        return
      }
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
    this.#origin.close()
    await this.#ready.catch(() => {})
    await this.#storage?.close()
  }

  /** Counters since creation. */
  stats(): EdgeStats {
    const c = this.#counters
    const storage = this.#storage?.stats() ?? { type: 'memory' as const, entries: 0, bytes: 0, maxBytes: 0, evictions: 0, errors: 0 }
    return {
      id: this.id,
      requests: c.requests,
      hits: c.hits,
      misses: c.misses,
      staleServed: c.swr + c.sie,
      staleWhileRevalidate: c.swr,
      staleIfError: c.sie,
      revalidations: c.revalidations,
      notModified: c.notModified,
      collapsed: c.collapsed,
      passes: c.passes,
      stored: c.stored,
      notStored: Object.fromEntries(c.notStored),
      originRequests: c.originRequests,
      originErrors: c.originErrors,
      originTimeouts: c.originTimeouts,
      originRejected: c.originRejected,
      breaker: this.#breaker.state,
      bytesServed: c.bytesServed,
      bytesFromOrigin: c.bytesFromOrigin,
      originLatency: { count: c.latencyCount, sumMs: c.latencySum, buckets: [...c.latencyBuckets] },
      purges: c.purges,
      purgedEntries: c.purgedEntries,
      rejected: c.rejected,
      purgeRefused: c.purgeRefused,
      busGaps: c.busGaps,
      storage,
    }
  }

  /**
   * Purges on this node and publishes the purge on the bus (when there is one), so every edge node
   * and every app cache following the bus applies it too. Resolves with the entries purged here.
   * Throws `E_PURGE_FAILED` when the bus refused the message (the local purge is done).
   */
  async purge(request: Partial<PurgeRequest>): Promise<{ entries: number; published: boolean }> {
    const p = parsePurgeRequest(request)
    const entries = await this.#purger.apply(this.#purger.selector(p.tags, p.urls, p.prefixes, false), p.soft, 'api')
    const bus = this.options.bus
    if (bus === undefined) return { entries, published: false }
    try {
      await bus.publish({
        ...(p.tags.length > 0 ? { tags: p.tags } : {}),
        ...(p.urls.length > 0 ? { urls: p.urls } : {}),
        ...(p.prefixes.length > 0 ? { prefixes: p.prefixes } : {}),
        soft: p.soft,
        origin: this.id,
        at: this.#clock.now(),
      })
    } catch (error) {
      throw new PurgeError('E_PURGE_FAILED', `purged on ${this.id} but could not publish on the bus: ${(error as Error).message}`, { entries }, error)
    }
    return { entries, published: true }
  }

  /** The request listener (use it to mount the edge on a server of your own). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#counters.requests++
    try {
      this.#route(req, res)
    } catch (error) {
      this.#internalError(res, error)
    }
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? ''
    const method = req.method ?? 'GET'
    if (url.length > this.options.maxUrlBytes) return this.#reject(res, 414, 'request-target too long')
    // Origin-form only (RFC 9112 §3.2.1): absolute-form and authority-form are for forward proxies.
    if (url.charCodeAt(0) !== 47) return this.#reject(res, 400, 'request-target must start with "/"')
    if (url.startsWith(this.#adminPrefix)) {
      handleAdmin(req, res, url, this.#adminDeps).catch((error: unknown) => this.#internalError(res, error))
      return
    }
    if (isLoop(req.headers, this.id)) return this.#reject(res, 508, 'forwarding loop: this edge is already in X-Tiercache-Hop')
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const rawQuery = q === -1 ? '' : url.slice(q + 1)
    const behavior = this.#behaviors.match(path)
    const o = behavior.options
    if (o.allowedMethods !== 'all' && !o.allowedMethods.has(method)) {
      return this.#reject(res, 403, `method ${method} is not allowed on ${o.pathPattern}`, [['allow', [...o.allowedMethods].join(', ')]])
    }
    const headers = req.headers
    const hasBody = (headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined
    if (!o.cachedMethods.has(method) || hasBody || (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS')) {
      this.#pass(req, res, behavior, path, rawQuery, hasBody).catch((error: unknown) => this.#internalError(res, error))
      return
    }
    // A range on a miss, or state preconditions: forwarded as they are, never stored.
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
        this.#counters.bytesServed += sendStored(req, res, stored, behavior, now, 'HIT')
        this.#published('hit', behavior, stored.status)
        return
      }
      const staleFor = now - freshUntil
      // Stale only: a fresh response the request's own directives refused is revalidated, not served.
      const mayServeStale = staleFor >= 0 && (stored.flags & FLAG_MUST_REVALIDATE) === 0
      if (mayServeStale && (staleFor < stored.staleWhileRevalidate || (requestCc !== undefined && requestAllowsStale(requestCc, staleFor)))) {
        this.#counters.swr++
        this.#counters.bytesServed += sendStored(req, res, stored, behavior, now, 'STALE')
        this.#published('stale', behavior, stored.status)
        this.#revalidateInBackground(req, behavior, urlPart, key, stored)
        return
      }
    }
    if (requestCc?.has('only-if-cached') === true) return this.#reject(res, 504, 'only-if-cached and nothing usable is stored')
    if (headers.range !== undefined || hasStatePreconditions(headers)) {
      const q = urlPart.indexOf('?')
      this.#pass(req, res, behavior, q === -1 ? urlPart : urlPart.slice(0, q), q === -1 ? '' : urlPart.slice(q + 1), false)
        .catch((error: unknown) => this.#internalError(res, error))
      return
    }
    const ctx: Ctx = {
      req, res, behavior, fetchMethod: method === 'OPTIONS' ? 'OPTIONS' : 'GET', urlPart, key,
      requestNoStore: requestCc?.has('no-store') === true,
    }
    this.#miss(ctx, stored).catch((error: unknown) => this.#internalError(res, error))
  }

  async #miss(ctx: Ctx, stale: StoredResponse | undefined): Promise<void> {
    const now = this.#clock.now()
    const hitForPass = this.#hitForPass.get(ctx.key)
    if (hitForPass !== undefined && hitForPass > now) {
      this.#counters.misses++
      await this.#answerLeader(ctx, await this.#fetcher.fetch(ctx, stale))
      return
    }
    const inFlight = this.#flights.get(ctx.key)
    if (inFlight !== undefined) {
      this.#counters.collapsed++
      const shared = await inFlight
      await this.#answerFollower(ctx, shared)
      return
    }
    this.#counters.misses++
    let resolveShared!: (result: SharedResult) => void
    const sharedPromise = new Promise<SharedResult>((resolve) => { resolveShared = resolve })
    this.#flights.set(ctx.key, sharedPromise)
    let result: LeaderResult
    try {
      result = await this.#fetcher.fetch(ctx, stale)
    } catch (error) {
      resolveShared({ kind: 'pass' })
      throw error
    } finally {
      this.#flights.delete(ctx.key)
    }
    resolveShared(toShared(result))
    if (result.kind === 'stream') this.#markHitForPass(ctx.key)
    await this.#answerLeader(ctx, result)
  }

  async #answerLeader(ctx: Ctx, result: LeaderResult): Promise<void> {
    const res = ctx.res as ServerResponse
    if (res.destroyed) {
      // The client went away while waiting: the fetch still served storage and the other waiters.
      if (result.kind === 'stream') result.response.stream.destroy()
      return
    }
    const now = this.#clock.now()
    const b = ctx.behavior
    switch (result.kind) {
      case 'stored':
        this.#counters.bytesServed += sendStored(ctx.req, res, result.stored, b, now, result.xCache, result.extra)
        this.#published(result.xCache === 'REVALIDATED' ? 'revalidated' : 'miss', b, result.stored.status)
        return
      case 'stale':
        this.#counters.sie++
        this.#counters.bytesServed += sendStored(ctx.req, res, result.stored, b, now, 'STALE')
        this.#published('stale', b, result.stored.status)
        return
      case 'stream':
        this.#counters.bytesServed += await sendStream(ctx.req, res, result.response, result.headers, result.head, 'MISS')
        this.#published('miss', b, result.response.status)
        return
      case 'error':
        this.#originError(res, result.error)
        this.#published('error', b, 0)
    }
  }

  async #answerFollower(ctx: Ctx, shared: SharedResult): Promise<void> {
    const res = ctx.res as ServerResponse
    if (res.destroyed) return
    const now = this.#clock.now()
    switch (shared.kind) {
      case 'stored': {
        const s = shared.stored
        if (s.vary === undefined || varyKey(s.vary, ctx.req.headers) === shared.varyValue) {
          this.#counters.bytesServed += sendStored(ctx.req, res, s, ctx.behavior, now, 'COLLAPSED')
          this.#published('collapsed', ctx.behavior, s.status)
          return
        }
        break
      }
      case 'stale':
        this.#counters.sie++
        this.#counters.bytesServed += sendStored(ctx.req, res, shared.stored, ctx.behavior, now, 'STALE')
        this.#published('stale', ctx.behavior, shared.stored.status)
        return
      case 'error':
        this.#originError(res, shared.error)
        this.#published('error', ctx.behavior, 0)
        return
      case 'pass':
        break
    }
    // The shared response is not for this request (private, too large, another variant): fetch alone.
    this.#counters.misses++
    await this.#answerLeader(ctx, await this.#fetcher.fetch(ctx, undefined))
  }

  #revalidateInBackground(req: IncomingMessage, behavior: CompiledBehavior, urlPart: string, key: string, stored: StoredResponse): void {
    if (this.#flights.has(key)) return
    const ctx: Ctx = { req, res: undefined, behavior, fetchMethod: req.method === 'OPTIONS' ? 'OPTIONS' : 'GET', urlPart, key, requestNoStore: false }
    let resolveShared!: (result: SharedResult) => void
    this.#flights.set(key, new Promise<SharedResult>((resolve) => { resolveShared = resolve }))
    this.#fetcher.fetch(ctx, stored).then((result) => {
      if (result.kind === 'stream') result.response.stream.destroy()
      resolveShared(toShared(result))
    }, (error: unknown) => {
      this.#logger.error({ error: (error as Error).message }, 'edge: background revalidation failed')
      resolveShared({ kind: 'pass' })
    }).finally(() => this.#flights.delete(key))
  }

  /**
   * One origin fetch for a cacheable request: conditional when a stored response has validators,
   * stale-if-error on failure, stored when allowed and small enough, streamed otherwise.
   */
  #markHitForPass(key: string): void {
    if (this.options.hitForPass <= 0) return
    if (this.#hitForPass.size >= MAX_HIT_FOR_PASS) this.#hitForPass.clear()
    this.#hitForPass.set(key, this.#clock.now() + this.options.hitForPass)
  }

  /** Forwards a request without the cache; after a successful unsafe method, invalidates per RFC 9111 §4.4. */
  async #pass(req: IncomingMessage, res: ServerResponse, behavior: CompiledBehavior, path: string, rawQuery: string, hasBody: boolean): Promise<void> {
    this.#counters.passes++
    const method = req.method ?? 'GET'
    const query = behavior.query(rawQuery)
    const headers = forwardHeaders(req, behavior, true, this.#forward)
    let response: OriginResponse
    try {
      response = await this.#origin.send({ method, path: query === '' ? path : `${path}?${query}`, headers, body: hasBody ? req : undefined })
    } catch (error) {
      if (!(error instanceof OriginUnavailableError)) throw error
      if (error.reason === 'breaker-open') this.#counters.originRejected++
      this.#originError(res, error)
      this.#published('error', behavior, 0)
      return
    }
    const cleaned = stripHopByHop(response.headers)
    if (!SAFE_METHODS.has(method) && response.status >= 200 && response.status < 400) {
      const paths = [query === '' ? path : `${path}?${query}`]
      for (const name of ['location', 'content-location']) {
        const value = getAll(cleaned, name)[0]
        const target = value === undefined ? undefined : sameOriginPath(value, req)
        if (target !== undefined) paths.push(target)
      }
      await this.#invalidateAfterUnsafe(paths)
    }
    res.on('close', () => { if (!res.writableFinished) response.stream.destroy() })
    this.#counters.bytesServed += await sendStream(req, res, response, cleaned, undefined, 'PASS')
    this.#published('pass', behavior, response.status)
  }

  async #invalidateAfterUnsafe(paths: readonly string[]): Promise<void> {
    const unique = [...new Set(paths)]
    await this.#purger.apply(this.#purger.selector([], unique, [], false), false, 'unsafe-method')
    const bus = this.options.bus
    if (bus === undefined || !this.options.publishUnsafeInvalidations) return
    bus.publish({ urls: unique, origin: this.id, at: this.#clock.now() }).catch((error: unknown) => {
      this.#logger.warn({ error: (error as Error).message }, 'edge: could not publish an invalidation after an unsafe method')
    })
  }

  #originError(res: ServerResponse, error: OriginUnavailableError): void {
    if (error.reason === 'timeout') return sendError(res, 504, 'origin timeout')
    if (error.reason === 'breaker-open') {
      return sendError(res, 503, 'origin unavailable (circuit open)', [['retry-after', String(Math.ceil(this.options.breakerCooldown / 1000))]])
    }
    sendError(res, 502, 'origin unreachable')
  }

  #reject(res: ServerResponse, status: number, message: string, extra?: readonly [string, string][]): void {
    this.#counters.rejected++
    // Whatever body the client sent is not read: close the connection after answering.
    res.shouldKeepAlive = false
    sendError(res, status, message, extra)
  }

  #internalError(res: ServerResponse, error: unknown): void {
    this.#logger.error({ error: error instanceof Error ? error.message : String(error) }, 'edge: internal error while answering a request')
    try {
      sendError(res, 502, 'edge error')
    } catch {
      res.destroy()
    }
  }

  #published(result: EdgeResult, behavior: CompiledBehavior, status: number): void {
    if (edgeChannels.request.hasSubscribers) edgeChannels.request.publish({ result, behavior: behavior.options.pathPattern, status })
  }

  async #openRedis(storage: Extract<EdgeOptions['storage'], { type: 'redis' }>): Promise<void> {
    const { RedisStorage } = await import('./redis-storage.js')
    const { parseDuration } = await import('../core/duration.js')
    const l1 = this.options.bus === undefined ? undefined : new MemoryStorage(storage.l1MaxBytes ?? EDGE_DEFAULTS.redisL1MaxBytes, this.#clock)
    this.#storage = new RedisStorage({
      ...(storage.redis === undefined ? {} : { redis: storage.redis }),
      ...(storage.cluster === undefined ? {} : { cluster: storage.cluster }),
      ...(storage.client === undefined ? {} : { client: storage.client }),
      namespace: storage.namespace ?? EDGE_DEFAULTS.redisNamespace,
      clock: this.#clock,
      timeoutMs: storage.timeout === undefined ? EDGE_DEFAULTS.redisTimeoutMs : parseDuration(storage.timeout, 'storage.timeout'),
      logger: this.#logger,
      l1,
    })
  }
}

/** Creates an edge (not yet listening: call `listen(port)`). Options are validated here. */
export function createEdge(options: EdgeOptions): Edge {
  return new Edge(options)
}
