import { BoundedCacheStorage } from './bounded-cache-storage.js'
import { ClientError } from './client-errors.js'
import { CLIENT_MESSAGE_VERSION, parseWorkerRequest } from './messages.js'
import type { WorkerReply, WorkerRequest } from './messages.js'
import { respond } from './strategies.js'
import type { Strategy } from './strategies.js'

/** A route: which same-origin GET requests it takes, and how it answers them. */
export interface WorkerRoute {
  readonly match: (url: URL, request: Request) => boolean
  readonly strategy: Strategy
}

/** Options of {@link installServiceWorker}. */
export interface ServiceWorkerOptions {
  /** The Cache Storage cache. Default `tiercache-v1`. */
  readonly cacheName?: string
  /** Bound on the bodies kept, bytes. Default 4 MiB. */
  readonly maxBytes?: number
  /** How long an entry may be served after it was stored, ms. Default 1 day. */
  readonly maxAgeMs?: number
  /** Network-first's wait before it answers from the cache, ms. Default 3000. */
  readonly networkTimeoutMs?: number
  /** First match wins; requests no route takes go to the network as if there were no worker. Default {@link defaultRoutes}(). */
  readonly routes?: readonly WorkerRoute[]
}

/** A path segment or file-name part of 8 to 64 hex digits: a content hash (`app.3f2a9c1d.js`, `/assets/3f2a9c1d0e/x.js`). */
const HASHED = /(^|[/.-])[0-9a-f]{8,64}([/.-]|$)/

/**
 * The default routes: API reads (`GET` under `apiPrefix`) stale-while-revalidate; versioned
 * assets (a content hash in the path) cache-first; documents (navigations, or requests that
 * accept HTML) network-first. Everything else, the event stream included, is left alone.
 */
export function defaultRoutes(apiPrefix = '/api/'): WorkerRoute[] {
  return [
    { match: (url) => url.pathname.startsWith(apiPrefix), strategy: 'stale-while-revalidate' },
    { match: (url) => HASHED.test(url.pathname), strategy: 'cache-first' },
    { match: (_url, request) => request.mode === 'navigate' || (request.headers.get('accept') ?? '').includes('text/html'), strategy: 'network-first' },
  ]
}

/**
 * Makes `scope` (the worker's global `self`) the client layer's service worker: routes and
 * strategies over a byte-bounded Cache Storage, and the messages pages send it (drop tags, resync,
 * stats; see ./messages.js). Call it once, while the worker script first runs:
 *
 * ```ts
 * // sw.ts, registered with navigator.serviceWorker.register('/sw.js', { type: 'module' })
 * import { installServiceWorker } from 'tiercache/client/service-worker'
 * installServiceWorker(self as unknown as ServiceWorkerGlobalScope, { maxBytes: 8 * 1024 * 1024 })
 * ```
 */
export function installServiceWorker(scope: ServiceWorkerGlobalScope, options: ServiceWorkerOptions = {}): void {
  const maxBytes = positive(options.maxBytes ?? 4 * 1024 * 1024, 'maxBytes')
  const maxAgeMs = positive(options.maxAgeMs ?? 24 * 60 * 60 * 1000, 'maxAgeMs')
  const networkTimeoutMs = positive(options.networkTimeoutMs ?? 3000, 'networkTimeoutMs')
  const cacheName = options.cacheName ?? 'tiercache-v1'
  const routes = options.routes ?? defaultRoutes()
  let opened: Promise<BoundedCacheStorage> | undefined
  const store = (): Promise<BoundedCacheStorage> => {
    opened ??= BoundedCacheStorage.open({ cacheName, maxBytes, maxAgeMs }).catch((error: unknown) => {
      opened = undefined
      throw error
    })
    return opened
  }

  // A new worker takes over at once: its routes and its tag index are what pages now rely on.
  scope.addEventListener('install', (event) => { event.waitUntil(scope.skipWaiting()) })
  scope.addEventListener('activate', (event) => { event.waitUntil(Promise.all([scope.clients.claim(), store()])) })

  scope.addEventListener('fetch', (event) => {
    const request = event.request
    if (request.method !== 'GET' || request.headers.has('range')) return
    const url = new URL(request.url)
    if (url.origin !== scope.location.origin) return
    const route = routes.find((r) => r.match(url, request))
    if (route === undefined) return
    event.respondWith(store().then(
      (s) => respond(route.strategy, request, { store: s, waitUntil: (work) => event.waitUntil(work), networkTimeoutMs }),
      // No Cache Storage (quota, private mode): the page still works, from the network.
      () => fetch(request),
    ))
  })

  scope.addEventListener('message', (event) => {
    const request = parseWorkerRequest(event.data)
    if (request === undefined) return
    const reply = (message: WorkerReply): void => {
      const port = event.ports[0]
      if (port !== undefined) port.postMessage(message)
      else event.source?.postMessage(message)
    }
    event.waitUntil(handle(request).then(reply, (error: unknown) => {
      reply({ type: 'tiercache:error', v: CLIENT_MESSAGE_VERSION, error: error instanceof Error ? error.message : String(error) })
    }))
  })

  async function handle(request: WorkerRequest): Promise<WorkerReply> {
    const s = await store()
    switch (request.type) {
      case 'tiercache:invalidate':
        return { type: 'tiercache:dropped', v: CLIENT_MESSAGE_VERSION, urls: await s.dropTags(request.tags) }
      case 'tiercache:resync':
        return { type: 'tiercache:dropped', v: CLIENT_MESSAGE_VERSION, urls: await s.dropTagged() }
      case 'tiercache:stats':
        await s.settled()
        return { type: 'tiercache:stats', v: CLIENT_MESSAGE_VERSION, stats: s.stats() }
    }
  }
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ClientError('E_INVALID_OPTION', `${name} must be a positive integer, got ${JSON.stringify(value)}`)
  }
  return value
}
