import { randomBytes } from 'node:crypto'
import { EDGE_ROLE, serveEdgeAdmin } from '../cluster/edge-cluster.js'
import type { EdgeAdmin, EdgeWorkerConfig } from '../cluster/edge-cluster.js'
import { freePort } from '../cluster/free-port.js'
import { relayBus } from '../cluster/ipc-bus.js'
import { WorkerPool, WorkerStartError } from '../cluster/worker-pool.js'
import { consoleLogger } from '../core/logger.js'
import type { CacheStats } from '../core/stats.js'
import type { DashboardCache, DashboardEdge } from '../dashboard/dashboard.js'
import type { Database } from '../db/database.js'
import type { EdgeStats } from '../edge/metrics.js'
import type { ChangeCapture } from '../ports/capture.js'
import type { Logger } from '../ports/logger.js'
import { CATALOG_ROLE, startCatalogCluster } from './catalog-cluster.js'
import type { CatalogCluster } from './catalog-cluster.js'
import { findOnPath, reachable, startRedisServer } from './redis-server.js'
import type { OwnRedis } from './redis-server.js'
import { redactUrl } from './redact-url.js'
import { STACK_EDGE_BEHAVIORS, listenError, loadAdapters, probePort } from './start-stack.js'

/** Options of {@link startClusterStack}. */
export interface ClusterStackOptions {
  /** Edge port. Default 8080; 0 picks a free one. */
  port?: number
  /** App port. Default 3000; 0 picks a free one. */
  appPort?: number
  host?: string
  /** PostgreSQL URL; embedded PGlite in this process when undefined. */
  databaseUrl?: string | undefined
  /** Redis URL; when undefined, a redis-server from PATH is started (none found: L1 only). */
  redisUrl?: string | undefined
  /** PATH searched for redis-server. Default process.env.PATH. */
  path?: string | undefined
  products?: number
  /** App worker processes. Default 2. */
  appWorkers?: number
  /** Edge worker processes. Default 2. */
  edgeWorkers?: number
  purgeToken?: string
  /** Each step as it happens (seeding, Redis), one line each. */
  onProgress?: (line: string) => void
  /** One log line per edge request, through the logger. Default false (a load run would flood the terminal). */
  accessLog?: boolean
  logger?: Logger
}

/** Where the stack's Redis comes from. */
export type RedisSource =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'started'; readonly url: string; readonly pid: number; readonly binary: string }
  | { readonly kind: 'none' }

/** A running multi-process stack, as its primary (this process) holds it. */
export interface ClusterStack {
  readonly edgeUrl: string
  readonly edgeAdminUrl: string
  readonly appUrl: string
  readonly purgeToken: string
  readonly redis: RedisSource
  readonly workers: { readonly app: readonly string[]; readonly edge: readonly string[] }
  /** The database, in this process (the app workers' queries pass through it when it is embedded). */
  readonly db: Database
  /** For the dashboard: the app workers' caches summed (refreshed every half second). */
  readonly cache: DashboardCache
  /** For the dashboard: the edge workers summed, a purge through one of them. */
  readonly edge: DashboardEdge
  /** For the dashboard: stops and starts every app worker's listener. */
  readonly origin: { stop(): Promise<unknown>; start(): Promise<unknown> }
  /** The redis-server this stack started (none with REDIS_URL or without Redis): the dashboard's Redis faults act on it. */
  readonly ownRedis: OwnRedis | undefined
  /** The change capture, in this process: the dashboard shows its lag and outbox depth. */
  readonly capture: ChangeCapture | undefined
  close(): Promise<void>
}

/** How often the primary gathers the workers' stats for the dashboard. */
const REFRESH_MS = 500

/**
 * The whole architecture on one machine, as processes: this process (the primary) owns the
 * database (PGlite, or a server) and runs change capture once; Redis is the one at REDIS_URL, or a
 * redis-server it starts (no persistence, stopped with the stack), or none (L1 only, the primary
 * relays the invalidation bus over IPC); the catalog app runs in `appWorkers` processes on the app
 * port, the edge in `edgeWorkers` processes on the edge port, each restarted if it crashes. The
 * embedded database is reached by the app workers over IPC: PGlite is one backend inside one
 * process, and routing queries through the primary is also what lets the dashboard count and slow
 * every query in one place.
 */
export async function startClusterStack(options: ClusterStackOptions = {}): Promise<ClusterStack> {
  const logger = options.logger ?? consoleLogger
  const progress = options.onProgress ?? (() => {})
  const host = options.host ?? '127.0.0.1'
  const namespace = 'catalog'
  await probePort('app', options.appPort ?? 3000, host)
  await probePort('edge', options.port ?? 8080, host)
  // A missing optional package is one line naming it, before anything starts.
  await loadAdapters(options.databaseUrl === '' ? undefined : options.databaseUrl, options.redisUrl === '' ? undefined : options.redisUrl)
  // Two roles on "any free port" would share one socket under node:cluster (see free-port.ts).
  const appPortWanted = options.appPort === 0 ? await freePort(host) : options.appPort ?? 3000
  const edgePortWanted = options.port === 0 ? await freePort(host) : options.port ?? 8080
  const closers: (() => Promise<unknown>)[] = []
  const closeAll = async (): Promise<void> => { for (const close of closers.reverse()) await close().catch(() => {}) }
  try {
    const redis = await chooseRedis(options, logger, progress)
    if (redis.own !== undefined) closers.push(() => redis.own!.stop())
    const redisUrl = redis.source.kind === 'none' ? undefined : redis.source.url
    const pool = new WorkerPool({ logger })
    closers.push(() => pool.stop())
    const relay = redisUrl === undefined ? relayBus(pool) : undefined
    if (relay !== undefined) {
      pool.handleAll(relay.handlers)
      closers.push(() => relay.bus.close())
    }
    const products = options.products ?? 1000
    progress(`seeding the catalog: ${products} products...`)
    const holder: { admin?: EdgeAdmin } = {}
    let catalog: CatalogCluster
    try {
      catalog = await startCatalogCluster({
        pool, workers: options.appWorkers ?? 2, port: appPortWanted, host, namespace, products,
        databaseUrl: options.databaseUrl, redisUrl, relay: relay?.bus, capture: 'in-process', queriesThroughPrimary: true, logger,
        onSeedProgress: (done, total) => progress(`seeded ${done} of ${total} products`),
        extraStats: async () => (holder.admin === undefined ? {} : { edge: await holder.admin.refresh() }),
      })
    } catch (error) {
      throw startError('app', appPortWanted, host, error)
    }
    // Closers run in reverse: the workers stop (draining their requests) before the database they query through.
    closers.push(() => catalog.close(), () => pool.stop())
    const purgeToken = options.purgeToken ?? randomBytes(24).toString('hex')
    const edgeConfig: EdgeWorkerConfig = {
      id: 'edge', origin: catalog.url, options: { behaviors: STACK_EDGE_BEHAVIORS }, purgeToken, accessLog: options.accessLog === true ? 'logger' : false,
      bus: redisUrl === undefined ? 'relay' : { redis: redisUrl, namespace },
      port: edgePortWanted, host,
    }
    let edgeWorkers
    try {
      edgeWorkers = await pool.add({ role: EDGE_ROLE, count: options.edgeWorkers ?? 2, config: edgeConfig })
    } catch (error) {
      throw startError('edge', edgePortWanted, host, error)
    }
    const admin = await serveEdgeAdmin(pool, { id: 'edge', port: 0, host: '127.0.0.1', options: edgeConfig.options, origin: catalog.url, purgeToken })
    holder.admin = admin
    closers.push(() => admin.close())
    // The dashboard samples synchronously: keep the last sums at hand.
    let edgeStats = await admin.refresh()
    let cacheStats = await catalog.cacheStats()
    const timer = setInterval(() => {
      admin.refresh().then((s) => { if (s !== undefined) edgeStats = s }, () => {})
      catalog.cacheStats().then((s) => { if (s !== undefined) cacheStats = s }, () => {})
    }, REFRESH_MS)
    closers.push(() => Promise.resolve(clearInterval(timer)))
    return {
      edgeUrl: edgeWorkers[0]!.url,
      edgeAdminUrl: admin.url,
      appUrl: catalog.url,
      purgeToken,
      redis: redis.source,
      workers: { app: catalog.workers.map((w) => w.id), edge: edgeWorkers.map((w) => w.id) },
      db: catalog.db,
      cache: { stats: () => cacheStats as CacheStats, peek: () => undefined },
      edge: { stats: () => edgeStats as EdgeStats, purge: (request) => admin.purge(request) },
      origin: {
        stop: () => pool.gather(CATALOG_ROLE, 'origin.stop'),
        start: () => pool.gather(CATALOG_ROLE, 'origin.start'),
      },
      ownRedis: redis.own,
      capture: catalog.capture,
      close: closeAll,
    }
  } catch (error) {
    await closeAll()
    throw error
  }
}

/** REDIS_URL when set (warned about once when it does not answer), else a redis-server of our own, else none. */
async function chooseRedis(options: ClusterStackOptions, logger: Logger, progress: (line: string) => void): Promise<{ source: RedisSource; own?: OwnRedis }> {
  const url = options.redisUrl === '' ? undefined : options.redisUrl
  if (url !== undefined) {
    // Redis down is what the cache is built to survive: the stack starts anyway and says so.
    if (!(await reachable(url))) logger.warn({ redis: redactUrl(url) }, 'Redis is not reachable: serving from L1 and the database until it answers')
    return { source: { kind: 'url', url } }
  }
  const binary = findOnPath('redis-server', options.path ?? process.env.PATH)
  if (binary === undefined) {
    progress('no redis-server on PATH and no REDIS_URL: running L1-only (each app process has its own L1; invalidations are relayed between processes in memory). Install redis-server or set REDIS_URL for the L2 tier')
    return { source: { kind: 'none' } }
  }
  // The workers need ioredis to use it: say so now, not from every worker.
  await loadAdapters(options.databaseUrl === '' ? undefined : options.databaseUrl, 'redis://127.0.0.1')
  progress(`starting ${binary} (no persistence, stopped with the stack)...`)
  const own = await startRedisServer(binary)
  return { source: { kind: 'started', url: own.url, pid: own.pid, binary }, own }
}

/** A worker that could not listen: the same PortInUseError a single process reports. */
function startError(role: 'edge' | 'app', port: number, host: string, error: unknown): unknown {
  if (error instanceof WorkerStartError && error.details.syscall === 'listen') return listenError(role, port, host, error.details)
  return error
}
