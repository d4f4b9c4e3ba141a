import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../ports/clock.js'
import type { CompiledBehavior } from './behavior.js'
import type { EdgeStorage } from './edge-storage.js'
import { forwardHeaders, responseTags } from './forward.js'
import type { ForwardContext } from './forward.js'
import { ageHeader, decideStorage, FLAG_MUST_REVALIDATE } from './freshness.js'
import type { RequestFacts } from './freshness.js'
import type { HeaderList, HeaderPair } from './header-list.js'
import { getAll, mergeNotModified, stripHopByHop } from './header-list.js'
import { formatHttpDate } from './http-date.js'
import type { EdgeCounters } from './metrics.js'
import type { ResolvedEdgeOptions } from './options.js'
import { OriginUnavailableError, readBody } from './origin-client.js'
import type { OriginClient, OriginResponse } from './origin-client.js'
import type { Flight } from './flights.js'
import type { PurgeFence } from './purge-fence.js'
import { forwardInterim } from './respond.js'
import type { XCache } from './respond.js'
import { StoredResponse, VARIANT_SEPARATOR, VaryMarker } from './stored-response.js'
import { varyKey } from './vary.js'

/** One cacheable request on its way through the miss path. */
export interface Ctx {
  readonly req: IncomingMessage
  /** Undefined for a background revalidation (stale-while-revalidate). */
  readonly res: ServerResponse | undefined
  readonly behavior: CompiledBehavior
  readonly fetchMethod: string
  readonly urlPart: string
  readonly key: string
  readonly requestNoStore: boolean
}

/** What waiters of a collapsed fetch receive. */
export type SharedResult =
  | { readonly kind: 'stored'; readonly stored: StoredResponse; readonly varyValue: string | undefined }
  | { readonly kind: 'stale'; readonly stored: StoredResponse }
  | { readonly kind: 'pass' }
  | { readonly kind: 'error'; readonly error: OriginUnavailableError }
  /** A purge cancelled the fetch: wait on (or start) a new one. */
  | { readonly kind: 'retry' }

/** What the request that fetched receives. */
export type LeaderResult =
  | { readonly kind: 'stored'; readonly stored: StoredResponse; readonly varyValue: string | undefined; readonly xCache: XCache; readonly extra?: HeaderList }
  | { readonly kind: 'stale'; readonly stored: StoredResponse }
  | { readonly kind: 'stream'; readonly response: OriginResponse; readonly headers: HeaderList; readonly head?: readonly Buffer[] }
  | { readonly kind: 'error'; readonly error: OriginUnavailableError }

/** Fields removed before a response is stored: the edge recomputes or sets them. */
const NOT_STORED: ReadonlySet<string> = new Set(['age', 'x-cache', 'content-length'])
/** Origin statuses that count as an error for stale-if-error (RFC 5861 §4). */
const STALE_ON_STATUS: ReadonlySet<number> = new Set([500, 502, 503, 504])

/** What the fetcher needs from the edge. */
export interface FetcherDeps {
  readonly options: ResolvedEdgeOptions
  readonly origin: OriginClient
  readonly counters: EdgeCounters
  readonly fence: PurgeFence
  readonly clock: Clock
  readonly forward: ForwardContext
  storage(): EdgeStorage
  /** Responses received at or before this are stale (a bus gap). */
  staleBefore(): number
}

/** When a stored response stops being fresh, counting a bus gap as a soft purge of everything. */
export function effectiveFreshUntil(stored: StoredResponse, staleBefore: number): number {
  return stored.responseTime <= staleBefore ? Math.min(stored.freshUntil, staleBefore) : stored.freshUntil
}

/** What a collapsed waiter receives from the request that fetched. */
export function toShared(result: LeaderResult): SharedResult {
  switch (result.kind) {
    case 'stored': return { kind: 'stored', stored: result.stored, varyValue: result.varyValue }
    case 'stale': return { kind: 'stale', stored: result.stored }
    case 'error': return { kind: 'error', error: result.error }
    case 'stream': return { kind: 'pass' }
  }
}

/**
 * One origin fetch for a cacheable request: conditional when a stored response has validators,
 * stale-if-error on failure, stored when RFC 9111 and the behavior allow and it is small enough,
 * streamed otherwise. Stores go through the purge fence.
 */
export class OriginFetcher {
  readonly #deps: FetcherDeps

  constructor(deps: FetcherDeps) {
    this.#deps = deps
  }

  /** `flight`, when given, can cancel the fetch (a purge) and learns the response's tags. */
  async fetch(ctx: Ctx, stale: StoredResponse | undefined, flight?: Flight): Promise<LeaderResult> {
    const { req, behavior } = ctx
    const headers = forwardHeaders(req, behavior, false, this.#deps.forward)
    const conditional = stale !== undefined && (stale.etag !== undefined || stale.lastModified !== undefined)
    const ticket = this.#deps.fence.ticket()
    if (conditional) {
      if (stale.etag !== undefined) headers['if-none-match'] = stale.etag
      if (stale.lastModified !== undefined) headers['if-modified-since'] = stale.lastModified
      this.#deps.counters.revalidations++
    }
    let response: OriginResponse
    try {
      const res = ctx.res
      response = await this.#deps.origin.send({
        method: ctx.fetchMethod, path: ctx.urlPart, headers, signal: flight?.controller.signal,
        onInformation: res === undefined ? undefined : (status, raw) => { forwardInterim(res, status, raw) },
      })
    } catch (error) {
      if (!(error instanceof OriginUnavailableError)) throw error
      if (error.reason === 'breaker-open') this.#deps.counters.originRejected++
      return this.#staleOr(stale, { kind: 'error', error })
    }
    const status = response.status
    const cleaned = stripHopByHop(response.headers)
    if (!cleaned.some((h) => h[0] === 'date')) cleaned.push(['date', formatHttpDate(response.responseTime)])
    if (flight !== undefined) flight.tags = responseTags(cleaned)
    if (status === 304 && conditional) {
      response.stream.resume()
      this.#deps.counters.notModified++
      return this.#freshen(ctx, stale, response, cleaned, ticket)
    }
    if (stale !== undefined && STALE_ON_STATUS.has(status) && this.staleIfErrorAllows(stale)) {
      response.stream.resume()
      return { kind: 'stale', stored: stale }
    }
    const facts = { ...this.#requestFacts(req, behavior), noStore: ctx.requestNoStore }
    const decision = decideStorage(status, cleaned, response, behavior.options, facts, this.#deps.options.surrogateId, this.#deps.options.keepStale)
    if (!decision.store) {
      this.#deps.counters.notStoredBecause(decision.reason)
      return { kind: 'stream', response, headers: cleaned }
    }
    const declared = getAll(cleaned, 'content-length')[0]
    if (declared !== undefined && Number(declared) > this.#deps.options.maxObjectBytes) {
      this.#deps.counters.notStoredBecause('too-large')
      return { kind: 'stream', response, headers: cleaned }
    }
    let read
    try {
      read = await readBody(response.stream, this.#deps.options.maxObjectBytes)
    } catch (error) {
      // A stalled body (the body timeout) stays a timeout: 504, not 502.
      const failure = error instanceof OriginUnavailableError ? error : new OriginUnavailableError('network', `origin body failed: ${(error as Error).message}`, error)
      return this.#staleOr(stale, { kind: 'error', error: failure })
    }
    if (!read.complete) {
      this.#deps.counters.notStoredBecause('too-large')
      return { kind: 'stream', response, headers: cleaned, head: read.head }
    }
    this.#deps.counters.bytesFromOrigin += read.body.length
    const storedHeaders = cleaned.filter((h) => !NOT_STORED.has(h[0]) && !decision.dropFields.has(h[0]))
    const stored = new StoredResponse({
      status, headers: storedHeaders, body: read.body, requestTime: response.requestTime, responseTime: response.responseTime,
      initialAge: decision.initialAge, lifetime: decision.lifetime, staleWhileRevalidate: decision.staleWhileRevalidate,
      staleIfError: decision.staleIfError, retention: Math.max(decision.staleWhileRevalidate, decision.staleIfError,
        (stale?.etag !== undefined || getAll(storedHeaders, 'etag').length > 0 || getAll(storedHeaders, 'last-modified').length > 0) ? this.#deps.options.keepStale : 0),
      flags: decision.flags, tags: responseTags(cleaned), url: ctx.urlPart, vary: decision.vary, invalidatedAt: Number.NaN,
    })
    const varyValue = stored.vary === undefined ? undefined : varyKey(stored.vary, req.headers)
    await this.#store(ctx, stored, varyValue, response, cleaned, ticket)
    return { kind: 'stored', stored, varyValue, xCache: 'MISS' }
  }

  /** RFC 9111 §4.3.4: a 304 freshens the stored response with the new header fields. */
  async #freshen(ctx: Ctx, stale: StoredResponse, response: OriginResponse, update: HeaderPair[], ticket: number): Promise<LeaderResult> {
    const behavior = ctx.behavior
    // Set-Cookie from a 304 goes to the client that triggered the validation, never into storage.
    const cookies = behavior.options.cacheSetCookie ? [] : update.filter((h) => h[0] === 'set-cookie')
    const skip = new Set(['age', 'x-cache', ...(cookies.length > 0 ? ['set-cookie'] : [])])
    const merged = mergeNotModified(stale.headers, update, skip)
    const decision = decideStorage(stale.status, merged, response, behavior.options, this.#requestFacts(ctx.req, behavior),
      this.#deps.options.surrogateId, this.#deps.options.keepStale)
    const extra = cookies.length > 0 ? cookies : undefined
    if (!decision.store) {
      this.#deps.counters.notStoredBecause(decision.reason)
      await this.#deps.storage().delete(this.#storageKey(ctx.key, stale, ctx.req))
      const once = stale.with({ headers: merged, requestTime: response.requestTime, responseTime: response.responseTime, initialAge: 0, lifetime: 0 })
      return { kind: 'stored', stored: once, varyValue: undefined, xCache: 'REVALIDATED', ...(extra === undefined ? {} : { extra }) }
    }
    const freshened = stale.with({
      headers: merged.filter((h) => !decision.dropFields.has(h[0])), requestTime: response.requestTime, responseTime: response.responseTime,
      initialAge: decision.initialAge, lifetime: decision.lifetime, staleWhileRevalidate: decision.staleWhileRevalidate,
      staleIfError: decision.staleIfError, flags: decision.flags, tags: responseTags(merged), invalidatedAt: Number.NaN,
    })
    const varyValue = freshened.vary === undefined ? undefined : varyKey(freshened.vary, ctx.req.headers)
    await this.#store(ctx, freshened, varyValue, response, update, ticket)
    return { kind: 'stored', stored: freshened, varyValue, xCache: 'REVALIDATED', ...(extra === undefined ? {} : { extra }) }
  }

  async #store(ctx: Ctx, stored: StoredResponse, varyValue: string | undefined, response: OriginResponse, headers: HeaderList, ticket: number): Promise<void> {
    const now = this.#deps.clock.now()
    // The fence: a response generated before a matching purge must not be stored after it. An
    // upstream cache's Age moves the generation time back (one extra second for Age's resolution).
    const age = ageHeader(headers)
    const upstream = age === undefined ? undefined : response.responseTime - age * 1000 - 1000
    if (!this.#deps.fence.admits(ticket, upstream, stored.url, stored.tags, now)) {
      this.#deps.counters.notStoredBecause('purged-while-fetching')
      return
    }
    const storage = this.#deps.storage()
    this.#deps.counters.stored++
    if (stored.vary === undefined || varyValue === undefined) {
      await storage.set(ctx.key, stored)
      return
    }
    await storage.set(ctx.key, new VaryMarker(stored.vary, stored.url, stored.staleUntil))
    await storage.set(ctx.key + VARIANT_SEPARATOR + varyValue, stored)
  }

  #storageKey(key: string, stored: StoredResponse, req: IncomingMessage): string {
    return stored.vary === undefined ? key : key + VARIANT_SEPARATOR + varyKey(stored.vary, req.headers)
  }

  #staleOr(stale: StoredResponse | undefined, failure: { kind: 'error'; error: OriginUnavailableError }): LeaderResult {
    if (stale !== undefined && this.staleIfErrorAllows(stale)) return { kind: 'stale', stored: stale }
    return failure
  }

  /** RFC 5861 §4 / RFC 9111 §4.2.4: stale on error only inside stale-if-error, never when revalidation is mandatory. */
  staleIfErrorAllows(stored: StoredResponse): boolean {
    if ((stored.flags & FLAG_MUST_REVALIDATE) !== 0) return false
    return this.#deps.clock.now() - effectiveFreshUntil(stored, this.#deps.staleBefore()) < stored.staleIfError
  }

  #requestFacts(req: IncomingMessage, behavior: CompiledBehavior): RequestFacts {
    const h = req.headers
    return {
      authorization: h.authorization !== undefined,
      cookieForwarded: behavior.cookie(h) !== undefined,
      noStore: false,
    }
  }
}
