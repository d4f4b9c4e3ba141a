import type { IncomingMessage, ServerResponse } from 'node:http'
import { cacheHeaders } from '../http/cache-control-headers.js'
import { InvalidationStream } from '../http/invalidation-stream.js'
import type { InvalidationStreamOptions } from '../http/invalidation-stream.js'
import type { InvalidationBus } from '../ports/bus.js'
import { clientAssets } from './client-assets.js'
import { demoHtml, demoWorkerScript } from './demo-page.js'

/** Limits of the event stream (see {@link InvalidationStreamOptions}). */
export type EventStreamLimits = Omit<InvalidationStreamOptions, 'bus' | 'path'>

/** The browser layer's routes of an app: the event stream, the client modules, the demo page and its worker. */
export interface ClientRoutes {
  /** True for the paths these routes answer. */
  serves(path: string): boolean
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>
  /** The event stream, when the app follows a bus. */
  readonly stream: InvalidationStream | undefined
  close(): void
}

// Under /_tiercache/, not /.tiercache/: the edge keeps /.tiercache/ for its own endpoints (purge,
// metrics), so these reach the app through the edge.
const EVENTS = '/_tiercache/events'
const MODULES = '/_tiercache/client/'
const DEMO = '/demo'
const WORKER = '/tiercache-sw.js'
const READ_ONLY = 'GET, HEAD'
const JS = 'text/javascript; charset=utf-8'

/**
 * The routes that serve the browser layer from the catalog app:
 * - `GET /_tiercache/events?tags=a,b` (or `/_tiercache/events/a,b`): the invalidations of those tags, as Server-Sent Events;
 * - `GET /_tiercache/client/<hash>/<module>.js`: the client modules, immutable (their URL changes with them);
 * - `GET /demo`: the demo page; `GET /tiercache-sw.js`: its service worker (revalidated on every update check).
 */
export function createClientRoutes(options: { bus: InvalidationBus | undefined; limits?: EventStreamLimits }): ClientRoutes {
  const stream = options.bus === undefined ? undefined : new InvalidationStream({ ...options.limits, path: EVENTS, bus: options.bus })
  return {
    stream,
    serves: (path) => path === EVENTS || path.startsWith(`${EVENTS}/`) || path === DEMO || path === WORKER || path.startsWith(MODULES),
    async handle(req, res, path) {
      if (path === EVENTS || path.startsWith(`${EVENTS}/`)) {
        if (stream !== undefined) return stream.handle(req, res)
        return sendText(res, req, 503, 'application/json; charset=utf-8', JSON.stringify({ error: 'this app follows no invalidation bus', code: 'E_EVENTS_CLOSED', field: 'server', rule: 'a bus' }), { 'cache-control': 'no-store' })
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendText(res, req, 405, 'application/json; charset=utf-8', JSON.stringify({ error: 'method not allowed', field: 'method', rule: READ_ONLY }), { allow: READ_ONLY, 'cache-control': 'no-store' })
      }
      const assets = await clientAssets()
      if (path === DEMO) {
        // A document: shared caches keep it briefly; the browser's worker serves it network-first.
        return sendText(res, req, 200, 'text/html; charset=utf-8', demoHtml(assets.hash, [...assets.files.keys()]), cacheHeaders({ preset: 'api', ttl: '10s', grace: '1m' }))
      }
      if (path === WORKER) {
        // The browser checks a worker script for updates past its HTTP cache anyway; max-age=0 says the same to everyone.
        return sendText(res, req, 200, JS, demoWorkerScript(assets.hash), { ...cacheHeaders({ preset: 'api', ttl: 0 }), 'service-worker-allowed': '/' })
      }
      const match = /^\/_tiercache\/client\/([0-9a-f]{16})\/([\w-]+\.js)$/.exec(path)
      const text = match !== null && match[1] === assets.hash ? assets.files.get(match[2]!) : undefined
      if (text === undefined) return sendText(res, req, 404, 'application/json; charset=utf-8', JSON.stringify({ error: 'not found' }), { 'cache-control': 'no-store' })
      return sendText(res, req, 200, JS, text, cacheHeaders({ preset: 'immutable' }))
    },
    close: () => stream?.close(),
  }
}

function sendText(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', ...headers })
  res.end(req.method === 'HEAD' ? undefined : body)
}
