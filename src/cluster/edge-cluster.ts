import http from 'node:http'
import type { Server } from 'node:http'
import { handleAdmin, sendJson } from '../edge/admin.js'
import type { AdminDeps } from '../edge/admin.js'
import { createEdge } from '../edge/edge.js'
import { PurgeError } from '../edge/errors.js'
import { baseUrl, closeServer, listenOn } from '../edge/listener.js'
import type { EdgeStats } from '../edge/metrics.js'
import type { EdgeOptions } from '../edge/options.js'
import { resolveEdgeOptions } from '../edge/options.js'
import type { PurgeRequest } from '../edge/purge.js'
import { TokenBucket } from '../edge/token-bucket.js'
import { systemClock } from '../core/clock.js'
import { consoleLogger } from '../core/logger.js'
import type { InvalidationBus } from '../ports/bus.js'
import type { Logger } from '../ports/logger.js'
import { drainServer } from './drain.js'
import { WorkerBus } from './ipc-bus.js'
import { RemoteError } from './rpc.js'
import { sumStats } from './sum-stats.js'
import type { WorkerHandle, WorkerLink } from './worker-main.js'
import type { WorkerPool } from './worker-pool.js'

/** The role name of edge workers. */
export const EDGE_ROLE = 'edge'

/** How an edge worker is built: plain data, sent to each worker by the primary. */
export interface EdgeWorkerConfig {
  /** The edge's id; worker i (from 0) is `<id>-<i+1>` (its hop header and bus origin). */
  readonly id: string
  readonly origin: string
  /** Edge options as in a config file (behaviors, storage, timeouts...): JSON, no port, host, bus or admin. */
  readonly options: Record<string, unknown>
  readonly purgeToken: string | undefined
  /** `stdout`: one JSON line per request; `logger`: through the log; false: none. */
  readonly accessLog: 'stdout' | 'logger' | false
  /** The Redis Streams bus, or `relay`: the primary relays purges between the workers over IPC. */
  readonly bus: { readonly redis?: string; readonly cluster?: unknown; readonly namespace: string } | 'relay'
  readonly port: number
  readonly host: string
  /** How long a stopping worker lets its requests finish. Default 5,000 ms. */
  readonly drainMs?: number
}

/** An edge worker: one edge with its own storage, following the bus, on the shared port. */
export async function startEdgeWorker(link: WorkerLink, logger: Logger = consoleLogger): Promise<WorkerHandle> {
  const config = link.config as EdgeWorkerConfig
  let bus: InvalidationBus
  let ready: Promise<void> = Promise.resolve()
  if (config.bus === 'relay') {
    bus = new WorkerBus(link.rpc)
  } else {
    const { RedisStreamBus } = await import('../redis/stream-bus.js')
    const stream = new RedisStreamBus({
      namespace: config.bus.namespace, logger,
      ...(config.bus.redis === undefined ? {} : { redis: config.bus.redis }),
      ...(config.bus.cluster === undefined ? {} : { cluster: config.bus.cluster as never }),
    })
    // Serve only once the bus is followed, so no purge published after start-up is missed.
    ready = stream.ready().catch(() => { logger.warn({}, 'edge worker: the invalidation bus is not connected yet; serving anyway') })
    bus = stream
  }
  const id = `${config.id}-${link.index + 1}`
  const edge = createEdge({
    ...(config.options as Partial<EdgeOptions>),
    origin: config.origin,
    id,
    bus,
    logger,
    ...(config.purgeToken === undefined ? {} : { purgeToken: config.purgeToken }),
    ...(config.accessLog === 'stdout' ? { accessLog: (entry) => { process.stdout.write(`${JSON.stringify(entry)}\n`) } } : { accessLog: config.accessLog === 'logger' }),
  })
  link.rpc.handle('stats', () => edge.stats())
  link.rpc.handle('edge.purge', (request) => edge.purge(request as Partial<PurgeRequest>))
  await ready
  const url = await edge.listen(config.port, config.host)
  return {
    ready: { id, url },
    close: async () => {
      await drainServer(edge.server, config.drainMs ?? 5_000)
      await edge.close()
      await bus.close()
    },
  }
}

/** Options of {@link serveEdgeAdmin}. */
export interface EdgeAdminOptions {
  /** The edge's id as the whole reports it. */
  readonly id: string
  readonly port: number
  readonly host: string
  /** Edge options the workers run with (the admin prefix and purge limits are read from them). */
  readonly options: Record<string, unknown>
  readonly origin: string
  readonly purgeToken: string | undefined
}

/** The primary's admin listener, and the whole edge's stats as it last gathered them. */
export interface EdgeAdmin {
  readonly url: string
  /** Asks every edge worker for its stats; resolves with their sum (undefined when none serves). */
  refresh(): Promise<EdgeStats | undefined>
  /** The last sum {@link refresh} made. */
  latest(): EdgeStats | undefined
  /** A purge through one worker, which publishes it to the others. */
  purge(request: Partial<PurgeRequest>): Promise<{ entries: number; published: boolean }>
  close(): Promise<void>
}

/**
 * The admin listener (metrics, stats, health, purge) of a multi-process edge, in the primary: it
 * answers for the WHOLE edge, the workers' stats gathered over IPC at each request and summed
 * (counters and per-worker gauges summed, breaker the worst: see sum-stats.ts). A purge is handed
 * to one worker, whose edge applies it and publishes it on the bus the others follow.
 */
export async function serveEdgeAdmin(pool: WorkerPool, options: EdgeAdminOptions): Promise<EdgeAdmin> {
  const resolved = resolveEdgeOptions({ ...(options.options as Partial<EdgeOptions>), origin: options.origin })
  let latest: EdgeStats | undefined
  const refresh = async (): Promise<EdgeStats | undefined> => {
    const sum = sumStats(await pool.gather<EdgeStats>(EDGE_ROLE, 'stats'))
    latest = sum === undefined ? undefined : { ...sum, id: options.id }
    return latest
  }
  const purge = async (request: Partial<PurgeRequest>): Promise<{ entries: number; published: boolean }> => {
    try {
      return await pool.request(EDGE_ROLE, 'edge.purge', request)
    } catch (error) {
      if (error instanceof RemoteError && (error.code === 'E_PURGE_INVALID' || error.code === 'E_PURGE_FAILED')) throw new PurgeError(error.code, error.message)
      throw error
    }
  }
  const deps: AdminDeps = {
    prefix: resolved.adminPrefix,
    purgeToken: options.purgeToken,
    metricsEndpoint: resolved.metricsEndpoint,
    id: options.id,
    maxBodyBytes: resolved.purge.maxBodyBytes,
    rate: new TokenBucket(resolved.purge.ratePerSecond, resolved.purge.burst, systemClock),
    purge,
    stats: () => latest as EdgeStats,
    refused: () => {},
    rateLimited: () => {},
    hold: (ms) => new Promise((resolve) => { setTimeout(resolve, ms).unref() }),
  }
  const server: Server = http.createServer({ maxHeaderSize: 8 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const url = req.url ?? ''
    if (!url.startsWith(deps.prefix)) {
      req.resume()
      sendJson(res, 404, { ok: false, error: `only ${deps.prefix}* is served here` })
      return
    }
    const name = url.slice(deps.prefix.length).split('?')[0]
    refresh().then(async (stats) => {
      if (name === 'health') {
        const workers = pool.workers(EDGE_ROLE).map((w) => ({ id: w.id ?? null, pid: w.pid ?? null, serving: w.id !== undefined, restarts: w.restarts }))
        return sendJson(res, stats === undefined ? 503 : 200, { ok: stats !== undefined, id: options.id, breaker: stats?.breaker ?? null, workers })
      }
      if (stats === undefined && name !== 'purge') return sendJson(res, 503, { ok: false, error: 'no edge worker is serving' })
      return handleAdmin(req, res, url, deps, true)
    }).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'admin error' })
      else res.destroy()
    })
  })
  await listenOn(server, options.port, options.host)
  return { url: baseUrl(server), refresh, latest: () => latest, purge, close: () => closeServer(server) }
}
