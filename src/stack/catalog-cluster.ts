import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cacheSink } from '../capture/cache-sink.js'
import { startOutboxCapture } from '../capture/outbox-capture.js'
import { drainServer } from '../cluster/drain.js'
import { databaseHandlers, IpcDatabase } from '../cluster/ipc-database.js'
import { WorkerBus } from '../cluster/ipc-bus.js'
import { sumStats } from '../cluster/sum-stats.js'
import type { WorkerHandle, WorkerLink } from '../cluster/worker-main.js'
import type { WorkerPool, WorkerReady } from '../cluster/worker-pool.js'
import { createCache } from '../compose/create-cache.js'
import type { TierCache } from '../core/cache.js'
import { consoleLogger } from '../core/logger.js'
import type { CacheStats } from '../core/stats.js'
import type { Database } from '../db/database.js'
import type { InvalidationBus } from '../ports/bus.js'
import type { ChangeCapture } from '../ports/capture.js'
import type { Logger } from '../ports/logger.js'
import { createCatalogApp } from './catalog-app.js'
import { countQueries } from './query-counter.js'
import type { QueryCounts } from './query-counter.js'
import { AFTER_COMMIT_WAIT_MS, openCatalogDatabase, prepareCatalog } from './catalog-service.js'
import { waitBounded } from './wait-bounded.js'

/** The role name of catalog app workers. */
export const CATALOG_ROLE = 'catalog'


/** How a catalog worker is built: plain data, sent by the primary. */
export interface CatalogWorkerConfig {
  readonly port: number
  readonly host: string
  readonly namespace: string
  /** `primary`: queries go to the primary's database over IPC (embedded PGlite); else a PostgreSQL URL of its own. */
  readonly database: string
  /** Redis for L2 and the Streams bus; without it, the primary relays the bus over IPC. */
  readonly redisUrl: string | undefined
  /** True when the primary runs change capture: a write is answered once its invalidation is published. */
  readonly capture: boolean
  /** How long a stopping worker lets its requests finish. Default 5,000 ms. */
  readonly drainMs?: number
}

/** Cache settings shared by the primary's capture cache and every worker's. */
function catalogCache(namespace: string, logger: Logger, redisUrl: string | undefined, bus: InvalidationBus | undefined): TierCache {
  return createCache({ namespace, ttl: '5m', grace: '1h', logger, ...(redisUrl === undefined ? (bus === undefined ? {} : { bus }) : { l2: { redis: redisUrl } }) })
}

/**
 * A catalog worker: the HTTP API on the shared port, its own L1 (and Redis L2), its database (the
 * primary's over IPC, or its own pool to a server). `/.stack/stats` answers for every worker: the
 * primary sums them. The dashboard can stop and restart its listener (`origin.stop`, `origin.start`).
 */
export async function startCatalogWorker(link: WorkerLink, logger: Logger = consoleLogger): Promise<WorkerHandle> {
  const config = link.config as CatalogWorkerConfig
  const { rpc } = link
  let db: Database
  if (config.database === 'primary') db = new IpcDatabase(rpc)
  else db = await openCatalogDatabase(config.database)
  const bus = config.redisUrl === undefined ? new WorkerBus(rpc) : undefined
  const cache = catalogCache(config.namespace, logger, config.redisUrl, bus)
  // Counted here, where the worker can report it: the primary sums every worker's `db` counts.
  const queries = countQueries(db)
  const app: Server = createCatalogApp({
    db, countedDb: queries, cache, logger,
    statsOf: () => rpc.request<Record<string, unknown>>('stats.gather'),
    ...(config.capture ? { afterCommit: (xid: bigint) => waitBounded(rpc.request('capture.waitFor', xid), AFTER_COMMIT_WAIT_MS) } : {}),
  })
  const listen = (): Promise<void> => new Promise<void>((resolve, reject) => {
    app.once('error', reject)
    app.listen(config.port, config.host, () => {
      app.off('error', reject)
      resolve()
    })
  })
  await listen()
  const { port } = app.address() as AddressInfo
  rpc.handle('stats', () => ({ cache: cache.stats(), db: queries.counts() }))
  rpc.handle('origin.stop', () => new Promise<void>((resolve) => {
    app.close(() => resolve())
    app.closeAllConnections()
  }))
  rpc.handle('origin.start', () => (app.listening ? undefined : listen()))
  return {
    ready: { id: `${CATALOG_ROLE}-${link.index + 1}`, url: `http://${config.host}:${port}` },
    close: async () => {
      await drainServer(app, config.drainMs ?? 5_000)
      await cache.close()
      await bus?.close()
      await db.close()
    },
  }
}

/** Options of {@link startCatalogCluster}. */
export interface CatalogClusterOptions {
  readonly pool: WorkerPool
  readonly workers: number
  readonly port: number
  readonly host: string
  readonly namespace: string
  readonly products: number
  readonly databaseUrl: string | undefined
  readonly redisUrl: string | undefined
  /** The primary's relay bus (see relayBus), when there is no Redis. */
  readonly relay: InvalidationBus | undefined
  /** `in-process`: the primary runs change capture (once); `external`: a `tiercache cdc` does. */
  readonly capture: 'in-process' | 'external'
  /**
   * Workers query through the primary even with a server (the demo stack: one place counts and
   * slows queries for the dashboard). Always so with the embedded database.
   */
  readonly queriesThroughPrimary?: boolean
  /** Extra sections of `/.stack/stats` (the stack adds the edge's). */
  readonly extraStats?: () => Promise<Record<string, unknown>>
  readonly onSeedProgress?: (done: number, total: number) => void
  readonly logger?: Logger
}

/** A running multi-process catalog, as its primary holds it. */
export interface CatalogCluster {
  readonly url: string
  readonly workers: readonly WorkerReady[]
  readonly db: Database
  /** The primary's cache: capture publishes through it (it serves no reads). */
  readonly cache: TierCache
  readonly capture: ChangeCapture | undefined
  /** The app workers' caches, summed, as last gathered. */
  cacheStats(): Promise<CacheStats | undefined>
  close(): Promise<void>
}

/**
 * The primary of `tiercache catalog --workers N`: it opens and seeds the database, installs the
 * outbox, runs change capture ONCE (the lease in PostgreSQL keeps it single across machines too),
 * serves the workers' queries when the database is embedded (PGlite is one process's), answers
 * their "wait for my transaction's invalidation", and sums their stats. Then forks the workers.
 */
export async function startCatalogCluster(options: CatalogClusterOptions): Promise<CatalogCluster> {
  const logger = options.logger ?? consoleLogger
  const { pool } = options
  const closers: (() => Promise<unknown>)[] = []
  const closeAll = async (): Promise<void> => { for (const close of closers.reverse()) await close().catch(() => {}) }
  const db = await openCatalogDatabase(options.databaseUrl)
  closers.push(() => db.close())
  try {
    const mapping = await prepareCatalog(db, options.products, options.onSeedProgress)
    const cache = catalogCache(options.namespace, logger, options.redisUrl, options.relay)
    closers.push(() => cache.close())
    let capture: ChangeCapture | undefined
    if (options.capture === 'in-process') {
      const started = await startOutboxCapture({ db, mapping, sink: cacheSink(cache), logger })
      capture = started
      closers.push(() => started.close())
    }
    const throughPrimary = options.databaseUrl === undefined || options.queriesThroughPrimary === true
    if (throughPrimary) pool.handleAll(databaseHandlers(db))
    type WorkerStats = { cache: CacheStats; db: QueryCounts }
    const gather = async (): Promise<WorkerStats | undefined> => sumStats(await pool.gather<WorkerStats>(CATALOG_ROLE, 'stats'))
    const cacheStats = async (): Promise<CacheStats | undefined> => (await gather())?.cache
    pool.handleAll({
      'capture.waitFor': (xid) => capture?.waitFor(xid as bigint),
      'stats.gather': async () => ({
        ...(await gather()),
        ...(capture === undefined ? {} : { capture: capture.stats() }),
        workers: pool.workers(CATALOG_ROLE).filter((w) => w.id !== undefined).length,
        ...(await options.extraStats?.()),
      }),
    })
    const config: CatalogWorkerConfig = {
      port: options.port, host: options.host, namespace: options.namespace,
      database: throughPrimary || options.databaseUrl === undefined ? 'primary' : options.databaseUrl,
      redisUrl: options.redisUrl, capture: capture !== undefined,
    }
    const workers = await pool.add({ role: CATALOG_ROLE, count: options.workers, config })
    return { url: workers[0]!.url, workers, db, cache, capture, cacheStats, close: closeAll }
  } catch (error) {
    await closeAll()
    throw error
  }
}
