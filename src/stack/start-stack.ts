import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { MemoryBus } from '../bus/memory-bus.js'
import { createCache } from '../compose/create-cache.js'
import type { TierCache } from '../core/cache.js'
import type { Logger } from '../ports/logger.js'
import { consoleLogger } from '../core/logger.js'
import type { Database } from '../db/database.js'
import { openDatabase } from '../db/database.js'
import { createEdge } from '../edge/index.js'
import type { Edge } from '../edge/index.js'
import type { InvalidationBus } from '../ports/bus.js'
import { createCatalogApp, seedCatalog } from './catalog-app.js'

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
  logger?: Logger
}

/** A running stack. */
export interface Stack {
  readonly edgeUrl: string
  readonly appUrl: string
  readonly purgeToken: string
  readonly db: Database
  readonly cache: TierCache
  readonly edge: Edge
  close(): Promise<void>
}

/**
 * The architecture on one machine: PostgreSQL (a server, or PGlite embedded), the catalog app with
 * tiercache (L1, and L2 + the Streams bus when Redis is given), and the edge in front. App
 * invalidations reach the edge through the bus (tags), so a PUT purges the edge's copy too.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const logger = options.logger ?? consoleLogger
  const host = options.host ?? '127.0.0.1'
  const namespace = 'catalog'
  const db = await openDatabase(options.databaseUrl)
  const closers: (() => Promise<unknown>)[] = [() => db.close()]
  try {
    await seedCatalog(db, options.products ?? 1000)
    let bus: InvalidationBus
    if (options.redisUrl !== undefined && options.redisUrl !== '') {
      const { RedisStreamBus } = await import('../redis/index.js')
      const stream = new RedisStreamBus({ redis: options.redisUrl, namespace, logger })
      closers.push(() => stream.close())
      // Follow the stream before serving: an invalidation appended before the follower's first
      // sync would fall before its cursor, and the edge would keep that response.
      stream.subscribe({ onMessage: () => {}, onGap: () => {} })
      await stream.ready()
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
      ...(options.redisUrl !== undefined && options.redisUrl !== '' ? { l2: { redis: options.redisUrl } } : {}),
    })
    closers.push(() => cache.close())
    const purgeToken = randomBytes(24).toString('hex')
    const holder: { edge?: Edge } = {}
    const app = createCatalogApp({ db, cache, stats: () => ({ edge: holder.edge?.stats() }) })
    const appPort = await listen(app, options.appPort ?? 3000, host)
    closers.push(() => closeServer(app))
    const appUrl = `http://${host}:${appPort}`
    // The stack shows what the edge does: one access log entry per request, through the logger.
    const edge = createEdge({ origin: appUrl, bus, purgeToken, logger, accessLog: true })
    holder.edge = edge
    const edgeUrl = await edge.listen(options.port ?? 8080, host)
    closers.push(() => edge.close())
    return {
      edgeUrl,
      appUrl,
      purgeToken,
      db,
      cache,
      edge,
      close: () => closeAll(closers),
    }
  } catch (error) {
    await closeAll(closers)
    throw error
  }
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
