import type { BoundedCacheStorage } from './bounded-cache-storage.js'

/** How a route answers: the three strategies of the client layer. */
export type Strategy = 'stale-while-revalidate' | 'cache-first' | 'network-first'

/** What a strategy needs besides the request: the store, and a way to keep the worker alive for background work. */
export interface StrategyContext {
  readonly store: BoundedCacheStorage
  /** `FetchEvent.waitUntil`: the worker is not stopped before the promise settles. */
  readonly waitUntil: (work: Promise<unknown>) => void
  /** Network-first gives the network this long before it answers from the cache, ms. */
  readonly networkTimeoutMs: number
}

/**
 * Answers `request` with `strategy`:
 * - `stale-while-revalidate` (API reads): the stored copy at once, refreshed in the background;
 *   the network when nothing is stored;
 * - `cache-first` (versioned assets, whose URL changes with their content): the stored copy, the
 *   network only on a miss;
 * - `network-first` (documents): the network, the stored copy when it fails or is slower than
 *   `networkTimeoutMs`.
 * Only complete same-origin `200` answers without `no-store` are stored. A request whose cache mode
 * is `no-cache`, `reload` or `no-store` (a reload) goes to the network first whatever the strategy.
 */
export async function respond(strategy: Strategy, request: Request, ctx: StrategyContext): Promise<Response> {
  // A page that asks past caches (`fetch(url, { cache: 'no-cache' })`, a reload) gets the network and
  // the answer is stored; the stored copy only when the network fails (offline).
  if (request.cache === 'no-cache' || request.cache === 'reload' || request.cache === 'no-store') {
    try {
      return await fetchAndStore(request, ctx)
    } catch (error) {
      const stored = await ctx.store.match(request)
      if (stored !== undefined) return stored
      throw error
    }
  }
  switch (strategy) {
    case 'cache-first': {
      const stored = await ctx.store.match(request)
      return stored ?? fetchAndStore(request, ctx)
    }
    case 'stale-while-revalidate': {
      const stored = await ctx.store.match(request)
      if (stored === undefined) return fetchAndStore(request, ctx)
      ctx.waitUntil(fetchAndStore(request, ctx).catch(() => undefined))
      return stored
    }
    case 'network-first': {
      const network = fetchAndStore(request, ctx)
      let timer: ReturnType<typeof setTimeout> | undefined
      const slow = new Promise<'slow'>((resolve) => { timer = setTimeout(() => resolve('slow'), ctx.networkTimeoutMs) })
      try {
        const first = await Promise.race([network, slow])
        if (first !== 'slow') return first
        const stored = await ctx.store.match(request)
        if (stored !== undefined) {
          ctx.waitUntil(network.catch(() => undefined))
          return stored
        }
        return await network
      } catch (error) {
        const stored = await ctx.store.match(request)
        if (stored !== undefined) return stored
        throw error
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

async function fetchAndStore(request: Request, ctx: StrategyContext): Promise<Response> {
  // Taken before the request leaves: a tag dropped while it is in flight keeps its answer out.
  const since = ctx.store.generation
  const response = await fetch(request)
  if (isStorable(response)) {
    const copy = response.clone()
    ctx.waitUntil(ctx.store.put(request, copy, since).catch(() => false))
  }
  return response
}

function isStorable(response: Response): boolean {
  // A redirected answer is not kept: served to a navigation later, the browser refuses it.
  if (response.status !== 200 || response.type !== 'basic' || response.redirected) return false
  const cacheControl = response.headers.get('cache-control') ?? ''
  return !/(^|[\s,])no-store($|[\s,;=])/i.test(cacheControl) && response.headers.get('vary')?.trim() !== '*'
}
