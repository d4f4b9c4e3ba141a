import { availableParallelism } from 'node:os'
import { isTierCacheError } from '../../core/errors.js'
import type { InvalidationBus } from '../../ports/bus.js'
import type { RedisStreamBus } from '../../redis/stream-bus.js'
import type { WorkerHandle, WorkerLink } from '../../cluster/worker-main.js'
import { untilStopped } from '../command-support.js'
import { integerValue, nonEmptyValue, parseCommandLine, portValue } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache edge --origin URL [--port N] [--host H] [--config file.json]

Runs the RFC 9111 caching reverse proxy in front of URL. Without --config the behaviors are a
CloudFront-style distribution (default TTL 1 day, /api/* keyed on Authorization, Accept,
Accept-Language).

options:
  --origin URL        origin (or shield) base URL, e.g. http://127.0.0.1:3000 (overrides the file)
  --port N            listen port (default 8080, 0 = any free port)
  --host H            listen address (default 127.0.0.1)
  --config FILE       JSON file with edge options (behaviors, storage, timeouts...; see docs/edge.md)
  --id ID             node id (hop header, bus origin)
  --bus URL           follow and publish on the Redis Streams invalidation bus at URL
  --bus-namespace NS  the namespace of that bus (the app caches' namespace; default "default")
  --admin-port N      serve metrics, stats and health on their own listener (0 = any free port);
                      on the public port they need the purge token
  --admin-host H      address of that listener (default 127.0.0.1: loopback only)
  --access-log        write one JSON line per request to stdout (method, path without query
                      values, status, cache outcome, bytes, duration)
  --workers N         worker processes sharing the port, each with its own memory storage (or the
                      shared Redis storage of the config), kept coherent by the bus (without --bus,
                      this process relays purges between them); a crashed worker is restarted.
                      The admin listener answers for all of them. Default: one per core (${availableParallelism()});
                      1 runs the edge in this process

environment:
  TIERCACHE_PURGE_TOKEN   bearer token of POST /.tiercache/purge (at least 16 characters)
`

/** `tiercache edge`: starts an edge and runs until SIGINT/SIGTERM. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'edge',
    help: HELP,
    options: {
      origin: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      id: { type: 'string' },
      bus: { type: 'string' },
      'bus-namespace': { type: 'string' },
      'admin-port': { type: 'string' },
      'admin-host': { type: 'string' },
      'access-log': { type: 'boolean' },
      workers: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  const flagPort = values.port === undefined ? undefined : portValue('edge', '--port', values.port, 0)
  const adminPort = values['admin-port'] === undefined ? undefined : portValue('edge', '--admin-port', values['admin-port'], 0)
  const workers = integerValue('edge', '--workers', values.workers, { min: 1, max: 256 }, availableParallelism())
  for (const flag of ['origin', 'host', 'config', 'id', 'bus', 'bus-namespace', 'admin-host'] as const) nonEmptyValue('edge', `--${flag}`, values[flag], '')
  const { createEdge, loadEdgeConfig } = await import('../../edge/index.js')
  try {
    const file = values.config === undefined ? {} : await loadEdgeConfig(values.config)
    const origin = values.origin ?? file.origin
    if (origin === undefined) throw new UsageError('edge', '--origin is required (or "origin" in the config file)')
    const port = flagPort ?? file.port ?? 8080
    const { port: _port, host: fileHost, bus: fileBus, ...options } = file
    const admin = adminPort === undefined && values['admin-host'] === undefined
      ? options.admin
      : { ...options.admin, ...(adminPort === undefined ? {} : { port: adminPort }), ...(values['admin-host'] === undefined ? {} : { host: values['admin-host'] }) }
    const busConfig = values.bus === undefined ? fileBus : { redis: values.bus, namespace: values['bus-namespace'] ?? fileBus?.namespace ?? 'default' }
    const token = process.env.TIERCACHE_PURGE_TOKEN
    if (workers > 1) {
      const { runEdgeCluster } = await import('../../cluster/edge-command.js')
      return await runEdgeCluster({
        workers, origin: String(origin), port, host: values.host ?? fileHost ?? '127.0.0.1', options, admin, busConfig,
        id: values.id, accessLog: values['access-log'] === true, purgeToken: token === undefined || token === '' ? undefined : token,
      })
    }
    let bus: InvalidationBus | undefined
    let stream: RedisStreamBus | undefined
    if (busConfig !== undefined) {
      const { RedisStreamBus } = await import('../../redis/stream-bus.js')
      stream = new RedisStreamBus({
        namespace: busConfig.namespace,
        ...(busConfig.redis === undefined ? {} : { redis: busConfig.redis }),
        ...(busConfig.cluster === undefined ? {} : { cluster: busConfig.cluster }),
      })
      bus = stream
    }
    let edge
    let url
    try {
      edge = createEdge({
        ...options,
        origin,
        ...(admin === undefined ? {} : { admin }),
        ...(values['access-log'] === true ? { accessLog: (entry) => { process.stdout.write(`${JSON.stringify(entry)}\n`) } } : {}),
        ...(bus === undefined ? {} : { bus }),
        ...(values.id === undefined ? {} : { id: values.id }),
        ...(token === undefined || token === '' ? {} : { purgeToken: token }),
      })
      if (stream !== undefined) {
        // Serve only once the bus is followed, so no purge published after start-up is missed.
        await stream.ready().catch(() => { console.error('tiercache edge: the invalidation bus is not connected yet; serving anyway') })
      }
      url = await edge.listen(port, values.host ?? fileHost ?? '127.0.0.1')
    } catch (error) {
      // Whatever was opened (the bus connection, the origin pool) would keep the process running.
      await edge?.close()
      await bus?.close()
      throw error
    }
    console.log(`tiercache edge ${edge.id} listening on ${url}, origin ${edge.options.origin.origin}${busConfig === undefined ? '' : `, bus ${busConfig.namespace}`}`)
    if (edge.adminServer !== undefined) console.log(`admin (metrics, stats, health) on ${edge.adminUrl}/.tiercache/`)
    if (edge.options.purgeToken === undefined) console.log('purge API disabled: set TIERCACHE_PURGE_TOKEN or "purgeToken" to enable it')
    await untilStopped()
    await edge.close()
    await bus?.close()
    return 0
  } catch (error) {
    if (isTierCacheError(error)) {
      console.error(`tiercache edge: ${error.code}: ${error.message}`)
      return 2
    }
    throw error
  }
}

/** An edge worker process (`--workers N`, or `tiercache start`): see src/cluster/edge-cluster.ts. */
export async function worker(link: WorkerLink): Promise<WorkerHandle> {
  const { startEdgeWorker } = await import('../../cluster/edge-cluster.js')
  return startEdgeWorker(link)
}
