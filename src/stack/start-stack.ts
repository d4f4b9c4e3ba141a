import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { createServer as createNetServer } from 'node:net'
import type { Server } from 'node:http'
import { MemoryBus } from '../bus/memory-bus.js'
import { createCache } from '../compose/create-cache.js'
import type { TierCache } from '../core/cache.js'
import type { Logger } from '../ports/logger.js'
import { consoleLogger } from '../core/logger.js'
import type { Database } from '../db/database.js'
import type * as PgAdapter from '../db/pg-database.js'
import type * as PgliteAdapter from '../db/pglite-database.js'
import type * as RedisAdapter from '../redis/index.js'
import { DEFAULT_BEHAVIORS, createEdge } from '../edge/index.js'
import type { BehaviorOptions, Edge } from '../edge/index.js'
import type { InvalidationBus } from '../ports/bus.js'
import { cacheSink } from '../capture/cache-sink.js'
import { parseCaptureMapping } from '../capture/mapping.js'
import { startOutboxCapture } from '../capture/outbox-capture.js'
import { installOutbox } from '../capture/outbox-schema.js'
import type { ChangeCapture } from '../ports/capture.js'
import { CATALOG_MAPPING, createCatalogApp, seedCatalog } from './catalog-app.js'
import { redactUrl } from './redact-url.js'
import { waitBounded } from './wait-bounded.js'
import { DatabaseUnavailableError, MissingDependencyError, PortInUseError } from './stack-errors.js'

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Edge port (what clients use). Default 8080; 0 picks a free one. */
  port?: number
  /** App port (the edge's origin). Default 3000; 0 picks a free one. */
  appPort?: number
  /** PostgreSQL URL; embedded PGlite when undefined. */
  databaseUrl?: string | undefined
  /** Redis URL for L2 and the bus; L1 only with an in-process bus when undefined. */
  redisUrl?: string | undefined
  /** Products seeded into the catalog. Default 1000. */
  products?: number
  host?: string
  /** Bearer token of the edge's purge API (at least 16 characters). Default: 24 random bytes, hex. */
  purgeToken?: string
  /** The cache namespace (keys in Redis, the invalidation stream). Default `catalog`. */
  namespace?: string
  /** One log line per edge request, through the logger. Default false (a load run would flood the terminal). */
  accessLog?: boolean
  logger?: Logger
}

/** A running stack. */
export interface Stack {
  readonly edgeUrl: string
  /** The edge's admin listener (metrics, stats, health), on loopback. */
  readonly edgeAdminUrl: string
  readonly appUrl: string
  /** The app's server (the live dashboard stops and restarts it to show the edge without its origin). */
  readonly app: Server
  readonly purgeToken: string
  readonly db: Database
  readonly cache: TierCache
  readonly edge: Edge
  /** The invalidation bus app and edge share (Redis Streams with a Redis URL, else in-process). */
  readonly bus: InvalidationBus
  /** The change capture that turns the database's commits into invalidations (outbox mode). */
  readonly capture: ChangeCapture
  close(): Promise<void>
}

/**
 * The architecture on one machine: PostgreSQL (a server, or PGlite embedded), the catalog app with
 * tiercache (L1, and L2 + the Streams bus when Redis is given), and the edge in front. The app
 * writes to the database only; change capture (outbox mode, in this process) turns each commit
 * into an invalidation on the bus, which the edge follows too, so a PUT purges the edge's copy.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const logger = options.logger ?? consoleLogger
  const host = options.host ?? '127.0.0.1'
  const namespace = options.namespace ?? 'catalog'
  const databaseUrl = options.databaseUrl === '' ? undefined : options.databaseUrl
  const redisUrl = options.redisUrl === '' ? undefined : options.redisUrl
  const appPortWanted = options.appPort ?? 3000
  const edgePortWanted = options.port ?? 8080
  // Fail in a moment, not after the database has started, when a port is taken (a second
  // `npm start`, most often). The real listen below still reports a port lost in between.
  await probePort('app', appPortWanted, host)
  await probePort('edge', edgePortWanted, host)
  const modules = await loadAdapters(databaseUrl, redisUrl)
  let db: Database
  try {
    db = databaseUrl === undefined ? await modules.pglite!.openPglite() : await modules.pg!.openPostgres(databaseUrl)
  } catch (error) {
    if (databaseUrl === undefined) throw error
    throw new DatabaseUnavailableError(redactUrl(databaseUrl), error)
  }
  const closers: (() => Promise<unknown>)[] = [() => db.close()]
  try {
    await seedCatalog(db, options.products ?? 1000)
    let bus: InvalidationBus
    if (redisUrl !== undefined) {
      const stream = new modules.redis!.RedisStreamBus({ redis: redisUrl, namespace, logger })
      closers.push(() => stream.close())
      // Follow the stream before serving: an invalidation appended before the follower's first
      // sync would fall before its cursor, and the edge would keep that response.
      stream.subscribe({ onMessage: () => {}, onGap: () => {} })
      // Redis down is what the cache is built to survive (the tier guard falls back to L1 and the
      // database, the bus catches up when Redis is back), so the demo starts anyway and says so.
      await stream.ready().catch(() => {
        logger.warn({ redis: redactUrl(redisUrl) }, 'Redis is not reachable: serving from L1 and the database until it answers')
      })
      bus = stream
    } else {
      bus = new MemoryBus()
      closers.push(() => bus.close())
    }
    const cache = createCache({
      namespace,
      ttl: '5m',
      grace: '1h',
      logger,
      bus,
      ...(redisUrl === undefined ? {} : { l2: { redis: redisUrl } }),
    })
    closers.push(() => cache.close())
    // The app writes to the database only; capture invalidates, for its writes and everyone else's.
    const mapping = parseCaptureMapping(CATALOG_MAPPING)
    await installOutbox(db, mapping)
    const capture = await startOutboxCapture({ db, mapping, sink: cacheSink(cache), logger })
    closers.push(() => capture.close())
    const purgeToken = options.purgeToken ?? randomBytes(24).toString('hex')
    const holder: { edge?: Edge } = {}
    const app = createCatalogApp({
      db, cache, logger, stats: () => ({ capture: capture.stats(), edge: holder.edge?.stats() }),
      // Read-your-writes: a write is answered once capture published it (bounded: the commit stands either way).
      afterCommit: (xid) => waitBounded(capture.waitFor(xid), AFTER_COMMIT_WAIT_MS),
    })
    const appPort = await listen(app, appPortWanted, host).catch((error: unknown) => { throw listenError('app', appPortWanted, host, error) })
    closers.push(() => closeServer(app))
    const appUrl = `http://${host}:${appPort}`
    // Metrics, stats and health on a loopback-only admin listener (any free port), not the public one.
    const edge = createEdge({ origin: appUrl, bus, behaviors: STACK_EDGE_BEHAVIORS, purgeToken, logger, accessLog: options.accessLog === true, admin: { port: 0, host: '127.0.0.1' } })
    closers.push(() => edge.close())
    holder.edge = edge
    const edgeUrl = await edge.listen(edgePortWanted, host).catch((error: unknown) => { throw listenError('edge', edgePortWanted, host, error) })
    return {
      edgeUrl,
      edgeAdminUrl: edge.adminUrl,
      appUrl,
      app,
      purgeToken,
      db,
      cache,
      edge,
      bus,
      capture,
      close: () => closeAll(closers),
    }
  } catch (error) {
    await closeAll(closers)
    throw error
  }
}

/**
 * The edge's behaviors in the stack: the defaults (a CloudFront-style distribution), except that
 * /api/* takes writes too, so a client can PUT, PATCH, POST and DELETE through the edge (the edge
 * passes them to the app and drops its copy of the URL; change capture purges the rest).
 */
export const STACK_EDGE_BEHAVIORS: readonly BehaviorOptions[] = DEFAULT_BEHAVIORS.map((b) => (b.pathPattern === '/api/*' ? { ...b, allowedMethods: 'all' } : b))

/** How long a write's answer waits for capture to publish its invalidation. */
const AFTER_COMMIT_WAIT_MS = 2000


/**
 * Loads the adapters this configuration needs, all before any work starts, so a missing optional
 * package (pg, PGlite, ioredis: peer dependencies a user of the published package installs only
 * when needed) is one typed error naming every package to install, not a module-not-found trace
 * after the database was opened.
 */
export async function loadAdapters(databaseUrl: string | undefined, redisUrl: string | undefined): Promise<{
  pglite?: typeof PgliteAdapter
  pg?: typeof PgAdapter
  redis?: typeof RedisAdapter
}> {
  const missing: { package: string; for: string }[] = []
  const attempt = async <T>(load: () => Promise<T>, pkg: string, purpose: string): Promise<T | undefined> => {
    try {
      return await load()
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown; context?: { package?: unknown } }
      // An adapter importing the package (ERR_MODULE_NOT_FOUND), or the core's own check (ioredis
      // is loaded on first use, and a missing one is reported as E_DEPENDENCY_MISSING).
      const notFound = e.code === 'ERR_MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${pkg}'`)
      if (!notFound && !(e.code === 'E_DEPENDENCY_MISSING' && e.context?.package === pkg)) throw error
      missing.push({ package: pkg, for: purpose })
      return undefined
    }
  }
  const [pglite, pg, redis] = await Promise.all([
    databaseUrl === undefined ? attempt(() => import('../db/pglite-database.js'), '@electric-sql/pglite', 'the embedded database') : undefined,
    databaseUrl === undefined ? undefined : attempt(() => import('../db/pg-database.js'), 'pg', 'a PostgreSQL server (DATABASE_URL)'),
    redisUrl === undefined ? undefined : attempt(async () => {
      const redis = await import('../redis/index.js')
      ;(await import('../redis/ioredis.js')).loadIoredis()
      return redis
    }, 'ioredis', 'Redis (REDIS_URL)'),
  ])
  // In a fixed order (the database first), whichever import failed first.
  const order = ['@electric-sql/pglite', 'pg', 'ioredis']
  if (missing.length > 0) throw new MissingDependencyError(missing.sort((a, b) => order.indexOf(a.package) - order.indexOf(b.package)))
  return { ...(pglite === undefined ? {} : { pglite }), ...(pg === undefined ? {} : { pg }), ...(redis === undefined ? {} : { redis }) }
}

/** Binds `port` for a moment and lets it go; a {@link PortInUseError} if it cannot. Port 0 is always free. */
export async function probePort(role: 'edge' | 'app', port: number, host: string): Promise<void> {
  if (port === 0) return
  const probe = createNetServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen({ port, host, exclusive: true }, () => resolve())
  }).catch((error: unknown) => { throw listenError(role, port, host, error) })
  await new Promise((resolve) => probe.close(resolve))
}

export function listenError(role: 'edge' | 'app', port: number, host: string, error: unknown): unknown {
  const code = (error as { code?: unknown }).code
  return code === 'EADDRINUSE' || code === 'EACCES' ? new PortInUseError(role, port, host, error) : error
}

async function closeAll(closers: (() => Promise<unknown>)[]): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => {})
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
