import { availableParallelism } from 'node:os'
import type { WorkerHandle, WorkerLink } from '../../cluster/worker-main.js'
import { redactUrl } from '../../stack/redact-url.js'
import { commandLogger, nonEmpty, untilStopped } from '../command-support.js'
import { integerValue, nonEmptyValue, parseCommandLine, portValue } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache catalog [--port 3000] [--products 100000] [--database URL] [--redis URL] [--namespace catalog] [--capture in-process|external] [--workers N]

Runs the reference catalog service: products (id, name, price_cents, stock, popularity, updated_at,
version) in PostgreSQL, read through tiercache, written to the database only. Invalidation comes
from the database's change capture, so a change made with psql reaches the caches like one made
through the API. Answers carry Cache-Control, ETag and Surrogate-Key for an edge or a CDN.

  GET    /api/products/:id       GET /api/products?top=N (1..100, most popular first)
  POST   /api/products           PUT | PATCH | DELETE /api/products/:id   (JSON; one transaction each)

options:
  --port N            the port (default 3000; 0 picks a free one)
  --host H            the address to listen on (default 127.0.0.1)
  --products N        products seeded, 1 to 10000000 (default 100000; existing rows are kept)
  --database URL      a PostgreSQL server (default $DATABASE_URL; without either: embedded PGlite, in memory)
  --redis URL         Redis for L2 and the invalidation bus (default $REDIS_URL; without either: L1 only)
  --namespace NS      the caches' namespace (default catalog)
  --capture MODE      in-process (default): this process runs the invalidator, and a write is answered
                      once its invalidation is published; external: a separate tiercache cdc does
  --workers N         processes serving the port, each with its own L1 (default: one per core, ${availableParallelism()}
                      here; 1 serves from this process). This process then runs change capture once,
                      serves the embedded database's queries to the workers, relays the invalidation
                      bus when there is no Redis, restarts a crashed worker, and /.stack/stats sums
                      every worker's counters
  -h, --help          print this help
  -v, --version       print the tiercache version
`

/** `tiercache catalog`: the reference service; runs until SIGINT or SIGTERM. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'catalog',
    help: HELP,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      products: { type: 'string' },
      database: { type: 'string' },
      redis: { type: 'string' },
      namespace: { type: 'string' },
      capture: { type: 'string' },
      workers: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  const port = portValue('catalog', '--port', values.port, 3000)
  const host = nonEmptyValue('catalog', '--host', values.host, '127.0.0.1')
  const products = integerValue('catalog', '--products', values.products, { min: 1, max: 10_000_000 }, 100_000)
  const namespace = nonEmptyValue('catalog', '--namespace', values.namespace, 'catalog')
  const capture = values.capture ?? 'in-process'
  if (capture !== 'in-process' && capture !== 'external') throw new UsageError('catalog', `--capture must be in-process or external, got ${JSON.stringify(capture)}`)
  const databaseUrl = values.database ?? nonEmpty(process.env.DATABASE_URL)
  const redisUrl = values.redis ?? nonEmpty(process.env.REDIS_URL)
  if (capture === 'external' && databaseUrl === undefined) {
    throw new UsageError('catalog', '--capture external needs --database (or DATABASE_URL): an embedded database cannot be followed by another process')
  }
  const workers = integerValue('catalog', '--workers', values.workers, { min: 1, max: 256 }, availableParallelism())
  let lastShown = 0
  const onSeedProgress = (done: number, total: number): void => {
    if (done === total || done - lastShown >= 500_000) console.log(`tiercache catalog: seeded ${done} of ${total} products`)
    lastShown = done
  }
  const starting = workers === 1
    ? import('../../stack/catalog-service.js').then(({ startCatalog }) => startCatalog({ port, host, products, namespace, capture, databaseUrl, redisUrl, onSeedProgress }))
    : startCluster({ workers, port, host, products, namespace, capture, databaseUrl, redisUrl, onSeedProgress })
  const service = await starting.catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'E_DATABASE_UNAVAILABLE') {
      console.error(`tiercache catalog: E_DATABASE_UNAVAILABLE: ${(error as Error).message}`)
      return undefined
    }
    throw error
  })
  if (service === undefined) return 1
  console.log([
    `tiercache catalog: listening on ${service.url}/api/products/1`,
    `  database  ${databaseUrl === undefined ? 'embedded PostgreSQL (PGlite, in memory)' : redactUrl(databaseUrl)}`,
    `  cache     namespace ${namespace}: ${redisUrl === undefined ? (workers === 1 ? 'L1 only, in-process bus' : 'L1 only, the bus relayed between the workers by this process') : `L1 + Redis at ${redactUrl(redisUrl)}`}`,
    `  capture   ${capture === 'in-process' ? 'in this process (outbox mode)' : 'external: run tiercache cdc next to it'}`,
    ...(workers === 1 ? [] : [`  workers   ${workers} processes on the port, each with its own L1; /.stack/stats sums them`]),
  ].join('\n'))
  await untilStopped()
  await service.close()
  return 0
}

/** The multi-process catalog (`--workers N`, N > 1): this process is the primary. */
async function startCluster(options: {
  workers: number; port: number; host: string; products: number; namespace: string; capture: 'in-process' | 'external'
  databaseUrl: string | undefined; redisUrl: string | undefined; onSeedProgress: (done: number, total: number) => void
}): Promise<{ url: string; close(): Promise<void> }> {
  const [{ WorkerPool, commandError }, { relayBus }, { startCatalogCluster }] = await Promise.all([
    import('../../cluster/worker-pool.js'), import('../../cluster/ipc-bus.js'), import('../../stack/catalog-cluster.js'),
  ])
  const pool = new WorkerPool({ logger: commandLogger('catalog') })
  const relay = options.redisUrl === undefined ? relayBus(pool) : undefined
  if (relay !== undefined) pool.handleAll(relay.handlers)
  try {
    const catalog = await startCatalogCluster({ pool, relay: relay?.bus, ...options })
    return {
      url: catalog.url,
      close: async () => {
        await pool.stop()
        await catalog.close()
        await relay?.bus.close()
      },
    }
  } catch (error) {
    await pool.stop()
    await relay?.bus.close()
    throw commandError(error)
  }
}

/** A catalog worker process (`--workers N`, or `tiercache start`): see src/stack/catalog-cluster.ts. */
export async function worker(link: WorkerLink): Promise<WorkerHandle> {
  const { startCatalogWorker } = await import('../../stack/catalog-cluster.js')
  return startCatalogWorker(link)
}
