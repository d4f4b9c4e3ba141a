import http from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isIPv4 } from 'node:net'
import type { TierCache } from '../core/cache.js'
import { InvalidOptionError } from '../core/errors.js'
import type { Database } from '../db/database.js'
import type { Edge } from '../edge/index.js'
import type { CaptureStats } from '../ports/capture.js'
import { chartAsset } from './assets.js'
import type { DatabaseMode } from './database-faults.js'
import { DatabaseFaults } from './database-faults.js'
import { LoadGenerator } from './load-generator.js'
import { APP_JS, INDEX_HTML, STYLE_CSS } from './page.js'
import { updateAndTrace } from './propagation.js'
import type { FaultableRedis, RedisMode } from './redis-faults.js'
import { RedisFaults } from './redis-faults.js'
import { Refusal, checkControl, checkHost, numberIn, oneOf, onlyKeys, readJsonObject } from './request-checks.js'
import { Sampler } from './sampler.js'

/** What the dashboard reads from the app's cache. */
export type DashboardCache = Pick<TierCache, 'stats' | 'peek'>
/** What the dashboard reads from and does to the edge. */
export type DashboardEdge = Pick<Edge, 'stats' | 'purge'>

/** What the dashboard watches and drives: the running stack. */
export interface DashboardStack {
  readonly edgeUrl: string
  readonly appUrl: string
  /** The app's cache (with several app processes: their stats summed; `peek` then sees none of their entries). */
  readonly cache: DashboardCache
  /** The edge (with several edge processes: their stats summed, a purge through one of them). */
  readonly edge: DashboardEdge
  readonly db: Database
  /** The app's server (the edge's origin): stopping it is one of the faults. */
  readonly app?: Server
  /** How the origin is stopped and started when it is not one server in this process (app workers). */
  readonly origin?: { stop(): Promise<unknown>; start(): Promise<unknown> }
  /** Products in the catalog (ids 1..products). */
  readonly products: number
  /**
   * The redis-server the stack started itself, the only Redis the dashboard stops or slows (one at
   * REDIS_URL may be shared with others, and is left alone).
   */
  readonly ownRedis?: FaultableRedis | undefined
  /** The change capture running in this process: its lag and outbox depth are shown. */
  readonly capture?: { stats(): CaptureStats } | undefined
}

export interface DashboardOptions {
  /** Default 0: any free port. */
  port?: number
  /**
   * Default 127.0.0.1. Loopback only (127.0.0.0/8, ::1 or localhost), anything else is refused:
   * the dashboard changes the running stack and has no login, and its Host check stops browsers
   * (DNS rebinding), not a client on another machine that sends `Host: 127.0.0.1`.
   */
  host?: string
}

export interface Dashboard {
  readonly url: string
  close(): Promise<void>
}

/** Live clients at most (each costs a socket and a JSON write a second). */
const MAX_CLIENTS = 32
const PAGE_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" }

/**
 * The live dashboard of `tiercache start`: every layer (edge, L1, L2, database) sampled once a
 * second and pushed to the page over Server-Sent Events, and controls that act on the stack
 * (a load, a product update traced through every layer, a tag purge, database, origin and Redis
 * faults; Redis faults only on a redis-server the stack started).
 */
export async function startDashboard(stack: DashboardStack, options: DashboardOptions = {}): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1'
  if (!isLoopback(host)) throw new InvalidOptionError('host', 'a loopback address (127.0.0.1, ::1 or localhost): the dashboard changes the running stack and has no login', host)
  const faults = new DatabaseFaults(stack.db)
  const load = new LoadGenerator(stack.edgeUrl, stack.products)
  const sampler = new Sampler(stack.cache, stack.edge, faults, load, stack.capture)
  const clients = new Set<ServerResponse>()
  let origin: 'up' | 'down' = 'up'
  const appAddress = new URL(stack.appUrl)
  const redis = stack.ownRedis === undefined ? undefined : new RedisFaults(stack.ownRedis)
  // Why the Redis faults are off, when they are: said on the page and in the API's 409.
  const redisRefusal: { code: string; reason: string } | undefined = redis !== undefined
    ? undefined
    : stack.cache.stats().l2 !== undefined
      ? { code: 'E_REDIS_NOT_OWNED', reason: 'Redis faults act only on a redis-server this stack started; this Redis comes from REDIS_URL (it may be shared) and is left alone' }
      : { code: 'E_NO_REDIS', reason: 'this stack runs without Redis (L1 only): there is no Redis to stop or slow' }
  const faultState = () => ({ database: faults.mode, origin, redis: redis?.mode ?? 'unavailable' })
  const status = () => ({
    load: load.status(),
    faults: faultState(),
    redisFaults: redisRefusal === undefined ? { available: true } : { available: false, reason: redisRefusal.reason },
    l2: stack.cache.stats().l2 !== undefined,
    products: stack.products,
  })

  const tick = setInterval(() => {
    const sample = sampler.sample()
    const data = `event: sample\ndata: ${JSON.stringify({ sample, status: status() })}\n\n`
    for (const res of clients) res.write(data)
  }, 1000)

  const setOrigin = async (mode: 'up' | 'down'): Promise<void> => {
    if (mode === origin) return
    const app = stack.app
    if (stack.origin !== undefined) {
      await (mode === 'down' ? stack.origin.stop() : stack.origin.start())
    } else if (app === undefined) {
      throw new Refusal(409, 'this stack cannot stop its origin')
    } else if (mode === 'down') {
      await new Promise<void>((resolve) => {
        app.close(() => resolve())
        app.closeAllConnections()
      })
    } else {
      await new Promise<void>((resolve, reject) => {
        app.once('error', reject)
        app.listen(Number(appAddress.port), appAddress.hostname, () => {
          app.off('error', reject)
          resolve()
        })
      })
    }
    origin = mode
  }

  const control = async (name: string, body: Record<string, unknown>): Promise<unknown> => {
    switch (name) {
      case 'load': {
        onlyKeys(body, ['rate', 'skew', 'duration'])
        const spec = { rate: numberIn(body, 'rate', 1, 2000, true), skew: numberIn(body, 'skew', 0, 3, false), duration: numberIn(body, 'duration', 1, 600, true) }
        load.start(spec)
        return { ok: true, load: load.status() }
      }
      case 'load/stop':
        onlyKeys(body, [])
        load.stop()
        return { ok: true, load: load.status() }
      case 'update': {
        onlyKeys(body, ['id'])
        const id = numberIn(body, 'id', 1, stack.products, true)
        // A write the stack refused (the database failing) is what the control shows, not a
        // dashboard error: answered 200 with ok false and the reason.
        try {
          return { ok: true, propagation: await updateAndTrace(stack.cache, stack.appUrl, stack.edgeUrl, id) }
        } catch (error) {
          return { ok: false, error: error instanceof Error ? error.message : String(error) }
        }
      }
      case 'purge': {
        onlyKeys(body, ['tag'])
        const tag = body.tag
        if (typeof tag !== 'string' || tag.length === 0 || tag.length > 200 || !/^[\x21-\x7e]+$/.test(tag)) {
          throw new Refusal(400, 'tag must be 1 to 200 visible ASCII characters', 'tag')
        }
        const result = await stack.edge.purge({ tags: [tag] })
        return { ok: true, tag, ...result }
      }
      case 'fault': {
        onlyKeys(body, ['target', 'mode'])
        const target = oneOf(body, 'target', ['database', 'origin', 'redis'] as const)
        if (target === 'database') faults.mode = oneOf<DatabaseMode>(body, 'mode', ['ok', 'slow', 'fail'])
        else if (target === 'origin') await setOrigin(oneOf(body, 'mode', ['up', 'down'] as const))
        else {
          const mode = oneOf<RedisMode>(body, 'mode', ['ok', 'slow', 'stopped'])
          if (redis === undefined) throw new Refusal(409, redisRefusal!.reason, 'target', redisRefusal!.code)
          redis.set(mode)
        }
        return { ok: true, faults: faultState() }
      }
      default:
        throw new Refusal(404, 'unknown control')
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, port: number): Promise<void> => {
    const hostHeader = checkHost(req, port, host)
    const url = req.url ?? '/'
    const path = url.split('?')[0] as string
    const method = req.method ?? 'GET'
    if (path.startsWith('/api/') && path !== '/api/state') {
      if (method !== 'POST') throw new Refusal(405, 'use POST')
      checkControl(req, hostHeader)
      const body = await readJsonObject(req)
      return sendJson(res, 200, await control(path.slice('/api/'.length), body))
    }
    if (method !== 'GET' && method !== 'HEAD') throw new Refusal(405, 'use GET')
    switch (path) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', INDEX_HTML)
      case '/app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', APP_JS)
      case '/style.css':
        return send(res, 200, 'text/css; charset=utf-8', STYLE_CSS)
      case '/favicon.ico':
        res.writeHead(204, { 'cache-control': 'public, max-age=86400' })
        res.end()
        return
      case '/api/state':
        return sendJson(res, 200, { history: sampler.history, status: status() })
      case '/events': {
        if (clients.size >= MAX_CLIENTS) throw new Refusal(429, 'too many dashboard clients')
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
        res.write(`event: history\ndata: ${JSON.stringify({ history: sampler.history, status: status() })}\n\n`)
        clients.add(res)
        req.on('close', () => clients.delete(res))
        return
      }
    }
    if (path.startsWith('/assets/')) {
      const asset = await chartAsset(path.slice('/assets/'.length))
      if (asset === 'missing') throw new Refusal(404, 'the charts need the uplot package: npm install uplot')
      if (asset !== undefined) return send(res, 200, asset.type, asset.body, 'public, max-age=3600')
    }
    throw new Refusal(404, 'not found')
  }

  const server = http.createServer({ maxHeaderSize: 8192, requestTimeout: 10_000 }, (req, res) => {
    const port = (server.address() as AddressInfo).port
    handle(req, res, port).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (error instanceof Refusal) {
        // Unread body bytes are dropped; the connection is not reused after a refusal.
        res.shouldKeepAlive = false
        sendJson(res, error.status, {
          ok: false, error: error.message,
          ...(error.code === undefined ? {} : { code: error.code }),
          ...(error.field === undefined ? {} : { field: error.field }),
        })
        return
      }
      sendJson(res, 500, { ok: false, error: 'dashboard error' })
    })
  })
  server.headersTimeout = 10_000
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve((server.address() as AddressInfo).port))
  })
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      // First: the stack's shutdown must find its Redis answering (and never leave it frozen).
      redis?.restore()
      clearInterval(tick)
      load.close()
      faults.restore()
      for (const res of clients) res.end()
      clients.clear()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      // The stack closes the app itself: bring it back so it is closed like the rest.
      if (origin === 'down') await setOrigin('up').catch(() => {})
    },
  }
}

/** 127.0.0.0/8, ::1 or localhost: addresses only this machine reaches. */
function isLoopback(host: unknown): host is string {
  if (typeof host !== 'string') return false
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'))
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, cache = 'no-store'): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-type': type, 'cache-control': cache, 'content-length': String(Buffer.byteLength(body)) })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', JSON.stringify(body))
}
