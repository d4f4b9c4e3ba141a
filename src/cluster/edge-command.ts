import { randomBytes } from 'node:crypto'
import { resolveEdgeOptions } from '../edge/options.js'
import type { EdgeOptions } from '../edge/options.js'
import { commandLogger, untilStopped } from '../cli/command-support.js'
import { EDGE_ROLE, serveEdgeAdmin } from './edge-cluster.js'
import type { EdgeAdmin, EdgeWorkerConfig } from './edge-cluster.js'
import { relayBus } from './ipc-bus.js'
import { WorkerPool, commandError } from './worker-pool.js'

/** What `tiercache edge --workers N` resolved from its flags and config file. */
export interface EdgeClusterCommand {
  readonly workers: number
  readonly origin: string
  readonly port: number
  readonly host: string
  /** Edge options from the config file (JSON), without port, host and bus. */
  readonly options: Record<string, unknown> & { admin?: { port?: number; host?: string } | undefined }
  readonly admin: { port?: number; host?: string } | undefined
  readonly busConfig: { redis?: string; cluster?: unknown; namespace: string } | undefined
  readonly id: string | undefined
  readonly accessLog: boolean
  readonly purgeToken: string | undefined
}

/**
 * `tiercache edge --workers N`: this process is the primary. It checks the options (a mistake is
 * reported once, before any worker starts), forks the workers, relays purges between them when
 * there is no Redis bus, serves the admin listener for the whole edge, and on SIGINT/SIGTERM stops
 * the workers gracefully. Exit 0 when stopped; a worker that cannot start (its port taken) fails
 * the command the way the single-process edge does.
 */
export async function runEdgeCluster(command: EdgeClusterCommand): Promise<number> {
  const { admin: _fileAdmin, ...options } = command.options
  const id = command.id ?? `edge-${randomBytes(4).toString('hex')}`
  // Validated here, once: the workers build the same edge from the same data.
  resolveEdgeOptions({ ...(options as Partial<EdgeOptions>), origin: command.origin, id: `${id}-1`, ...(command.purgeToken === undefined ? {} : { purgeToken: command.purgeToken }) })
  const logger = commandLogger('edge')
  const pool = new WorkerPool({ logger })
  const relay = command.busConfig === undefined ? relayBus(pool) : undefined
  if (relay !== undefined) pool.handleAll(relay.handlers)
  const config: EdgeWorkerConfig = {
    id, origin: command.origin, options, purgeToken: command.purgeToken,
    // --access-log writes JSON lines to stdout; `"accessLog": true` in the file logs through the logger, as in one process.
    accessLog: command.accessLog ? 'stdout' : options.accessLog === true ? 'logger' : false,
    bus: command.busConfig ?? 'relay',
    port: command.port, host: command.host,
  }
  const stopping = untilStopped()
  let admin: EdgeAdmin | undefined
  try {
    const ready = await pool.add({ role: EDGE_ROLE, count: command.workers, config })
    if (command.admin !== undefined) {
      admin = await serveEdgeAdmin(pool, {
        id, port: command.admin.port ?? 0, host: command.admin.host ?? '127.0.0.1', options, origin: command.origin, purgeToken: command.purgeToken,
      })
    }
    const url = ready[0]!.url
    console.log(`tiercache edge ${id} listening on ${url}, origin ${new URL(command.origin).origin}${command.busConfig === undefined ? '' : `, bus ${command.busConfig.namespace}`}, ${command.workers} workers (${ready.map((r) => r.id).join(', ')})`)
    if (admin !== undefined) console.log(`admin (metrics, stats, health) on ${admin.url}/.tiercache/ (all workers)`)
    if (command.purgeToken === undefined) console.log('purge API disabled: set TIERCACHE_PURGE_TOKEN or "purgeToken" to enable it')
  } catch (error) {
    await admin?.close()
    await pool.stop()
    await relay?.bus.close()
    throw commandError(error)
  }
  await stopping
  await admin?.close()
  await pool.stop()
  await relay?.bus.close()
  return 0
}
