import { redactUrl } from '../../stack/redact-url.js'
import { PortInUseError } from '../../stack/stack-errors.js'
import { startStack } from '../../stack/start-stack.js'
import { startClusterStack } from '../../stack/start-cluster-stack.js'
import type { RedisSource } from '../../stack/start-cluster-stack.js'
import { startDashboard } from '../../dashboard/dashboard.js'
import { nonEmpty } from '../command-support.js'
import { integerValue, nonEmptyValue, parseCommandLine, portValue } from '../parse-command-line.js'
import { stateDirectory, writeSecretFile } from '../secret-file.js'
import { UsageError } from '../usage-error.js'
import { tiercacheVersion } from '../version.js'

const HELP = `usage: tiercache start [--port 8080] [--app-port 3000] [--products 1000] [--host 127.0.0.1] [--workers 2]

Runs the whole architecture on one machine: PostgreSQL (embedded PGlite, or a server at
DATABASE_URL), Redis (REDIS_URL; else a redis-server from PATH that it starts without persistence
and stops with the stack; else L1 only), the product catalog app whose reads go through tiercache,
change capture turning each commit into invalidations, the tiercache edge in front of the app, and
a live dashboard. The app and the edge each run in worker processes. Needs no service at all.
Ctrl-C (or SIGTERM) stops everything it started.

options:
  --port N        the edge's port, what clients use (default $PORT or 8080; 0 picks a free one)
  --app-port N    the app's port, the edge's origin (default 3000; 0 picks a free one)
  --products N    products seeded into the catalog, 1 to 1000000 (default 1000)
  --host H        the address both listen on (default 127.0.0.1)
  --workers N     processes for the app and for the edge each, 1 to 64 (default 2); 1 runs everything
                  in this process, with Redis only from REDIS_URL
  --access-log    log one line per edge request (off by default: a load run would flood the terminal)
  -h, --help      print this help
  -v, --version   print the tiercache version

environment:
  DATABASE_URL            a PostgreSQL server to use instead of the embedded one
  REDIS_URL               Redis for L2 and the invalidation bus (without it: a redis-server of its own,
                          or L1 only when there is none on PATH)
  TIERCACHE_PURGE_TOKEN   the edge's purge token; without it one is generated and written to a file
                          only you can read, in TIERCACHE_STATE_DIR (default ~/.local/state/tiercache)
`

/** How a user runs this command again: from the repository (`npm start` runs the sources) or installed. */
const FROM_SOURCES = import.meta.url.endsWith('.ts')
const TIERCACHE = FROM_SOURCES ? 'npm run tiercache --' : 'npx tiercache'

/** `tiercache start`: the demo stack; runs until SIGINT or SIGTERM. Exit 0 when stopped, 1 when it could not start. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'start',
    help: HELP,
    options: {
      port: { type: 'string' },
      'app-port': { type: 'string' },
      products: { type: 'string' },
      host: { type: 'string' },
      workers: { type: 'string' },
      'access-log': { type: 'boolean' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  const port = portValue('start', values.port === undefined ? 'PORT' : '--port', values.port ?? process.env.PORT, 8080)
  const appPort = portValue('start', '--app-port', values['app-port'], 3000)
  const products = integerValue('start', '--products', values.products, { min: 1, max: 1_000_000 }, 1000)
  const host = nonEmptyValue('start', '--host', values.host, '127.0.0.1')
  const workers = integerValue('start', '--workers', values.workers, { min: 1, max: 64 }, 2)
  const accessLog = values['access-log'] === true
  const envToken = process.env.TIERCACHE_PURGE_TOKEN
  if (envToken !== undefined && envToken !== '' && envToken.length < 16) {
    throw new UsageError('start', 'TIERCACHE_PURGE_TOKEN must be at least 16 characters (or unset it, and a token is generated)')
  }
  const databaseUrl = nonEmpty(process.env.DATABASE_URL)
  const redisUrl = nonEmpty(process.env.REDIS_URL)

  console.log(`tiercache ${tiercacheVersion()}: starting the demo stack${databaseUrl === undefined ? ' (the embedded PostgreSQL takes a few seconds)' : ''}`)
  // Listening from the start: a Ctrl-C while the database starts stops the stack once it is up.
  const stopping = waitForSignal()
  let stack: Awaited<ReturnType<typeof startStack>> | Awaited<ReturnType<typeof startClusterStack>>
  const tokenOption = envToken === undefined || envToken === '' ? {} : { purgeToken: envToken }
  try {
    stack = workers === 1
      ? await startStack({ port, appPort, products, host, databaseUrl, redisUrl, accessLog, ...tokenOption })
      : await startClusterStack({
        port, appPort, products, host, databaseUrl, redisUrl, accessLog, appWorkers: workers, edgeWorkers: workers, ...tokenOption,
        onProgress: (line) => console.log(`  ${line}`),
      })
  } catch (error) {
    if (error instanceof PortInUseError) {
      const flag = error.role === 'edge' ? '--port' : '--app-port'
      console.error(`tiercache start: ${error.code}: ${error.message} (another tiercache start?): stop what uses it, or choose another port with ${flag} (0 picks a free one)`)
      return 1
    }
    if ((error as { code?: unknown }).code === 'E_DATABASE_UNAVAILABLE') {
      console.error(`tiercache start: E_DATABASE_UNAVAILABLE: ${(error as Error).message}: start that server, fix DATABASE_URL, or unset it to use the embedded database`)
      return 1
    }
    throw error
  }

  let token: { path: string; remove(): Promise<void> } | undefined
  let dashboard: { url: string; close(): Promise<void> } | undefined
  try {
    // The live dashboard: loopback only, any free port (it drives the stack: load, faults, purges).
    dashboard = await startDashboard({ ...stack, products })
    if (envToken === undefined || envToken === '') {
      token = await writeSecretFile(stateDirectory(), `purge-token-${new URL(stack.edgeUrl).port}`, stack.purgeToken)
    }
  } catch (error) {
    await dashboard?.close()
    await stack.close()
    throw error
  }
  const product = `${stack.edgeUrl}/api/products/1`
  console.log([
    '',
    `  database   ${databaseUrl === undefined ? 'embedded PostgreSQL (PGlite, in memory: its data goes when the stack stops; DATABASE_URL uses a server)' : `PostgreSQL at ${redactUrl(databaseUrl)}`}`,
    `  cache      ${cacheLine('redis' in stack ? stack.redis : undefined, redisUrl)}`,
    ...('workers' in stack
      ? [`  processes  this one (database, change capture, edge admin, dashboard; pid ${process.pid}), app workers ${stack.workers.app.join(', ')}, edge workers ${stack.workers.edge.join(', ')}`]
      : []),
    `  catalog    ${products} products`,
    '',
    `  edge (use this)   ${product}`,
    `  app (origin)      ${stack.appUrl}/api/products/1`,
    `  dashboard         ${dashboard.url}   (live, every layer: run a load, update a product, purge, inject faults)`,
    `  stats             ${stack.appUrl}/.stack/stats   ${stack.edgeAdminUrl}/.tiercache/metrics (admin listener, loopback only)`,
    '',
    'try it:',
    `  curl -i ${product}      # X-Cache: MISS, then HIT`,
    `  curl -X PATCH -H 'content-type: application/json' -d '{"price_cents":999}' ${stack.edgeUrl}/api/products/1`,
    `  curl -i ${product}      # version 2: change capture purged the edge's copy`,
    '',
    token === undefined
      ? 'purge token: the one in TIERCACHE_PURGE_TOKEN'
      : `purge token: in ${token.path} (readable by you only; removed when the stack stops)`,
    `  ${token === undefined ? '' : `TIERCACHE_PURGE_TOKEN="$(cat ${token.path})" `}${TIERCACHE} purge --tag product:1 --edge ${stack.edgeUrl}`,
    '',
    'Ctrl-C stops it.',
  ].join('\n'))

  await stopping
  console.log('stopping...')
  await token?.remove()
  await dashboard.close()
  await stack.close()
  return 0
}

/** Which cache tiers run, and where Redis comes from. */
function cacheLine(redis: RedisSource | undefined, redisUrl: string | undefined): string {
  if (redis === undefined) {
    return redisUrl === undefined
      ? 'L1 in the app process, in-process invalidation bus (REDIS_URL adds Redis as L2 and the Streams bus)'
      : `L1 + Redis at ${redactUrl(redisUrl)} (L2 and the Streams invalidation bus)`
  }
  if (redis.kind === 'url') return `L1 in each app worker + Redis at ${redactUrl(redis.url)} (L2 and the Streams invalidation bus)`
  if (redis.kind === 'started') return `L1 in each app worker + Redis at ${redis.url} (L2 and the Streams bus; a redis-server started for this stack, pid ${redis.pid}, no persistence, stopped with it)`
  return 'L1 only, in each app worker (no Redis: invalidations relayed between the processes by this one)'
}

/** How long stopping may take before the process exits anyway (a hung connection must not keep it up). */
const STOP_DEADLINE_MS = 10_000

/**
 * Resolves on the first SIGINT or SIGTERM, and from then on keeps the process from outliving
 * {@link STOP_DEADLINE_MS}. A repeated signal changes nothing: Ctrl-C under `npm start` arrives
 * twice (the terminal signals the whole process group, and npm forwards its own copy).
 */
function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      if (deadline !== undefined) return
      deadline = setTimeout(() => {
        console.error(`tiercache start: not stopped after ${STOP_DEADLINE_MS / 1000} s; exiting without waiting`)
        process.exit(1)
      }, STOP_DEADLINE_MS)
      deadline.unref()
      resolve()
    }
    let deadline: NodeJS.Timeout | undefined
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
