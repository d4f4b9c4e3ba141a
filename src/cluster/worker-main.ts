import cluster from 'node:cluster'
import { Rpc } from './rpc.js'
import type { WorkerReady } from './worker-pool.js'
import { WORKER_ROLE_ENV } from './worker-pool.js'

/** What a worker role gets: its channel to the primary, its index in its group, the group's config. */
export interface WorkerLink {
  readonly rpc: Rpc
  readonly index: number
  readonly config: unknown
}

/** A running worker, as its role returns it. */
export interface WorkerHandle {
  readonly ready: WorkerReady
  /** Stops accepting, finishes what is in flight, closes everything. */
  close(): Promise<void>
}

/** The role a forked process runs, or undefined in a process that is not a tiercache worker. */
export function workerRole(): string | undefined {
  const role = process.env[WORKER_ROLE_ENV]
  return cluster.isWorker && role !== undefined && role !== '' ? role : undefined
}

/**
 * A worker process's life: fetch the config from the primary, start the role, say `ready` (or
 * `failed`, then exit 1), and on `shutdown` (or SIGTERM) finish in-flight work and exit 0.
 * SIGINT is left to the primary: Ctrl-C in a terminal signals every process of the group, and a
 * worker that stopped on its own would look like a crash to restart.
 */
export async function runWorker(start: (link: WorkerLink) => Promise<WorkerHandle>): Promise<number> {
  const rpc = new Rpc((message) => process.send!(message))
  process.on('message', (message: unknown) => rpc.receive(message))
  process.on('SIGINT', () => {})
  let handle: WorkerHandle | undefined
  let stopping: Promise<number> | undefined
  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      await handle?.close()
      return 0
    })()
    return stopping
  }
  const stopped = new Promise<number>((resolve) => {
    rpc.on('shutdown', () => { void stop().then(resolve) })
    process.once('SIGTERM', () => { void stop().then(resolve) })
  })
  try {
    const { index, config } = await rpc.request<{ index: number; config: unknown }>('config')
    handle = await start({ rpc, index, config })
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown; syscall?: unknown; port?: unknown; address?: unknown }
    // What the primary needs to report it as the single-process command would (a port in use...).
    rpc.emit('failed', {
      message: typeof e.message === 'string' ? e.message : String(error),
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.syscall === 'string' ? { syscall: e.syscall } : {}),
      ...(typeof e.port === 'number' ? { port: e.port } : {}),
      ...(typeof e.address === 'string' ? { address: e.address } : {}),
    })
    return 1
  }
  rpc.emit('ready', handle.ready)
  const code = await stopped
  // The channel's open handle would keep the process alive.
  process.disconnect?.()
  return code
}
