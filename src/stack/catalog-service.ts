import type { AddressInfo } from 'node:net'
import { MemoryBus } from '../bus/memory-bus.js'
import { cacheSink } from '../capture/cache-sink.js'
import { parseCaptureMapping } from '../capture/mapping.js'
import type { CaptureMapping } from '../capture/mapping.js'
import { startOutboxCapture } from '../capture/outbox-capture.js'
import { installOutbox } from '../capture/outbox-schema.js'
import { createCache } from '../compose/create-cache.js'
import type { TierCache } from '../core/cache.js'
import { consoleLogger } from '../core/logger.js'
import { openDatabase } from '../db/database.js'
import type { Database } from '../db/database.js'
import type { ChangeCapture } from '../ports/capture.js'
import type { Logger } from '../ports/logger.js'
import { CATALOG_MAPPING, createCatalogApp, seedCatalog } from './catalog-app.js'
import { redactUrl } from './redact-url.js'
import { DatabaseUnavailableError } from './stack-errors.js'
import { waitBounded } from './wait-bounded.js'

/** Options of {@link startCatalog}. */
export interface CatalogServiceOptions {
  /** Default 3000; 0 picks a free one. */
  port?: number
  host?: string
  /** PostgreSQL URL; embedded PGlite (in memory) when undefined. */
  databaseUrl?: string | undefined
  /** Redis for L2 and the Streams bus; L1 and an in-process bus when undefined. */
  redisUrl?: string | undefined
  /** The caches' namespace (what `tiercache cdc --namespace` and edges follow). Default `catalog`. */
  namespace?: string
  /** Products seeded. Default 100,000. */
  products?: number
  /**
   * `in-process` (default): this process runs the invalidator (it stands by if another holds the
   * lease) and answers a write once its invalidation is published. `external`: a separate
   * `tiercache cdc` does; writes are answered at commit.
   */
  capture?: 'in-process' | 'external'
  onSeedProgress?: (done: number, total: number) => void
  logger?: Logger
}

/** A running catalog service. */
export interface CatalogService {
  readonly url: string
  readonly db: Database
  readonly cache: TierCache
  readonly capture: ChangeCapture | undefined
  close(): Promise<void>
}

/** How long a write's answer waits for its invalidation to be published. */
export const AFTER_COMMIT_WAIT_MS = 2000

/** Opens the catalog's database: `url`, or an embedded PGlite; a server that does not answer is `E_DATABASE_UNAVAILABLE` (password hidden). */
export async function openCatalogDatabase(url: string | undefined): Promise<Database> {
  try {
    return await openDatabase(url)
  } catch (error) {
    if (url === undefined) throw error
    throw new DatabaseUnavailableError(redactUrl(url), error)
  }
}

/** Creates and seeds the products table and installs the capture outbox; resolves with the capture mapping. */
export async function prepareCatalog(db: Database, products: number, onProgress?: (done: number, total: number) => void): Promise<CaptureMapping> {
  await seedCatalog(db, products, onProgress)
  const mapping = parseCaptureMapping(CATALOG_MAPPING)
  await installOutbox(db, mapping)
  return mapping
}

/**
 * The catalog as a service of its own (`tiercache catalog`): the database seeded (one
 * `generate_series` statement per 100,000 rows), the outbox installed, a cache (L1, plus Redis L2
 * and the Streams bus when given), change capture, and the HTTP API.
 */
export async function startCatalog(options: CatalogServiceOptions = {}): Promise<CatalogService> {
  const logger = options.logger ?? consoleLogger
  const namespace = options.namespace ?? 'catalog'
  const closers: (() => Promise<unknown>)[] = []
  const closeAll = async (): Promise<void> => { for (const close of closers.reverse()) await close().catch(() => {}) }
  const db = await openCatalogDatabase(options.databaseUrl)
  closers.push(() => db.close())
  try {
    const mapping = await prepareCatalog(db, options.products ?? 100_000, options.onSeedProgress)
    const redis = options.redisUrl
    let cache: TierCache
    if (redis === undefined) {
      const bus = new MemoryBus()
      closers.push(() => bus.close())
      cache = createCache({ namespace, ttl: '5m', grace: '1h', logger, bus })
    } else {
      cache = createCache({ namespace, ttl: '5m', grace: '1h', logger, l2: { redis } })
    }
    closers.push(() => cache.close())
    let capture: ChangeCapture | undefined
    if (options.capture !== 'external') {
      const started = await startOutboxCapture({ db, mapping, sink: cacheSink(cache), logger })
      capture = started
      closers.push(() => started.close())
    }
    const app = createCatalogApp({
      db, cache, logger,
      stats: () => ({ capture: capture?.stats() }),
      ...(capture === undefined ? {} : {
        afterCommit: (xid: bigint) => waitBounded(capture.waitFor(xid), AFTER_COMMIT_WAIT_MS),
      }),
    })
    await new Promise<void>((resolve, reject) => {
      app.once('error', reject)
      app.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve())
    })
    closers.push(() => new Promise((resolve) => { app.close(resolve); app.closeAllConnections() }))
    const { port } = app.address() as AddressInfo
    return { url: `http://${options.host ?? '127.0.0.1'}:${port}`, db, cache, capture, close: closeAll }
  } catch (error) {
    await closeAll()
    throw error
  }
}
