import cluster from 'node:cluster'
import type { Worker } from 'node:cluster'
import type { Logger } from '../ports/logger.js'
import { RemoteError, Rpc } from './rpc.js'

/** The environment variable that tells a forked process which role to run (see worker-main.ts). */
export const WORKER_ROLE_ENV = 'TIERCACHE_WORKER_ROLE'

/** Workers of one role, all alike: `count` processes started with `config`. */
export interface WorkerGroup {
  /** The command whose `worker()` the process runs: `edge` or `catalog`. */
  readonly role: string
  readonly count: number
  /** Sent to each worker on start (structured clone: plain data only). Each also gets its index. */
  readonly config: unknown
}

/** What a worker reports once it serves. */
export interface WorkerReady {
  readonly id: string
  readonly url: string
}

/** A worker as the primary sees it. */
export interface WorkerInfo {
  readonly role: string
  readonly index: number
  readonly pid: number | undefined
  readonly id: string | undefined
  readonly restarts: number
}

export interface PoolOptions {
  logger: Logger
  /** Requests from workers (`db.query`, `bus.publish`, ...): handlers the primary answers. */
  handlers?: Record<string, (payload: unknown, from: WorkerInfo) => unknown>
  /** First restart delay after a crash, doubled per crash in a row up to `maxBackoffMs`. Default 250. */
  backoffMs?: number
  /** Default 10,000. */
  maxBackoffMs?: number
  /** A worker that served this long is healthy again: the next crash restarts it after `backoffMs`. Default 10,000. */
  healthyAfterMs?: number
  /** How long a worker may take to finish its in-flight requests when stopped before it is killed. Default 5,000. */
  stopDeadlineMs?: number
}

interface Slot {
  readonly group: WorkerGroup
  readonly index: number
  worker: Worker | undefined
  rpc: Rpc | undefined
  ready: WorkerReady | undefined
  restarts: number
  crashesInRow: number
  startedAt: number
  /** It served once: from then on, an exit is a crash to restart, not a failed start. */
  served: boolean
  timer: NodeJS.Timeout | undefined
}

/** Why the pool could not start: a worker failed before serving (a port taken, a service down). */
export class WorkerStartError extends Error {
  readonly code: string
  readonly role: string
  /** The worker's error as it reported it (`syscall`, `port`, `address` of a failed listen). */
  readonly details: Readonly<Record<string, unknown>>
  constructor(role: string, message: string, details: Readonly<Record<string, unknown>> = {}) {
    super(message)
    this.name = 'WorkerStartError'
    this.role = role
    this.details = details
    this.code = typeof details.code === 'string' ? details.code : 'E_WORKER_START'
  }
}

/**
 * The primary's side of a node:cluster deployment: forks workers by group, answers their requests,
 * asks them for things (`gather` for stats), restarts a worker that died with a back-off (so a
 * crash loop costs a process every few seconds, not a spinning CPU; each restart is logged), and
 * stops them all gracefully (each worker finishes its in-flight requests; killed after a deadline).
 *
 * Workers share the listening ports through node:cluster (the primary holds the socket and hands
 * connections out round-robin), so the port keeps serving while one worker restarts.
 */
export class WorkerPool {
  readonly #options: PoolOptions
  readonly #slots: Slot[] = []
  readonly #handlers = new Map<string, (payload: unknown, from: WorkerInfo) => unknown>()
  #stopping = false

  constructor(options: PoolOptions) {
    if (!cluster.isPrimary) throw new Error('a WorkerPool runs in the primary process')
    this.#options = options
    for (const [type, handler] of Object.entries(options.handlers ?? {})) this.#handlers.set(type, handler)
    // Structured clone over IPC: bigint transaction ids, Dates in rows, Maps.
    cluster.setupPrimary({ serialization: 'advanced' })
  }

  /** Forks the group's workers; resolves with what each reported once all serve. Rejects if one fails first. */
  async add(group: WorkerGroup): Promise<WorkerReady[]> {
    const slots: Slot[] = []
    for (let index = 0; index < group.count; index++) {
      const slot: Slot = { group, index, worker: undefined, rpc: undefined, ready: undefined, restarts: 0, crashesInRow: 0, startedAt: 0, served: false, timer: undefined }
      this.#slots.push(slot)
      slots.push(slot)
    }
    return Promise.all(slots.map((slot) => this.#fork(slot)))
  }

  /** Answers workers' `type` requests (register before {@link add}). */
  handle(type: string, handler: (payload: unknown, from: WorkerInfo) => unknown): this {
    this.#handlers.set(type, handler)
    return this
  }

  /** Registers every handler of `handlers`. */
  handleAll(handlers: Record<string, (payload: unknown, from: WorkerInfo) => unknown>): this {
    for (const [type, handler] of Object.entries(handlers)) this.#handlers.set(type, handler)
    return this
  }

  /** The workers now, by role (or all). */
  workers(role?: string): WorkerInfo[] {
    return this.#slots.filter((s) => role === undefined || s.group.role === role).map((s) => this.#info(s))
  }

  /**
   * Sends `type` to every serving worker of `role` and collects the answers. A worker that fails,
   * or does not answer within `timeoutMs` (a stuck event loop), is left out rather than holding up
   * the stats of the others.
   */
  async gather<T>(role: string, type: string, payload?: unknown, timeoutMs = 2_000): Promise<T[]> {
    const live = this.#slots.filter((s) => s.group.role === role && s.ready !== undefined && s.rpc !== undefined)
    const timers: NodeJS.Timeout[] = []
    const answers = await Promise.allSettled(live.map((s) => Promise.race([
      s.rpc!.request<T>(type, payload),
      new Promise<never>((_, reject) => { timers.push(setTimeout(() => reject(new Error('no answer in time')), timeoutMs)) }),
    ])))
    for (const timer of timers) clearTimeout(timer)
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []))
  }

  /** Sends `type` to one serving worker of `role` (the first that serves). */
  request<T>(role: string, type: string, payload?: unknown): Promise<T> {
    const slot = this.#slots.find((s) => s.group.role === role && s.ready !== undefined && s.rpc !== undefined)
    if (slot === undefined) return Promise.reject(new RemoteError(`no ${role} worker is serving`, 'E_WORKER_GONE'))
    return slot.rpc!.request<T>(type, payload)
  }

  /** An event to every worker (of `role`, or all). */
  broadcast(type: string, payload?: unknown, role?: string): void {
    for (const s of this.#slots) if ((role === undefined || s.group.role === role) && s.rpc !== undefined) s.rpc.emit(type, payload)
  }

  /**
   * Stops every worker: each is asked to stop accepting, finish what is in flight and exit; one
   * still running after the deadline is killed. No worker is restarted from here on.
   */
  async stop(): Promise<void> {
    this.#stopping = true
    const deadline = this.#options.stopDeadlineMs ?? 5_000
    await Promise.all(this.#slots.map(async (slot) => {
      clearTimeout(slot.timer)
      const worker = slot.worker
      if (worker === undefined || worker.isDead()) return
      const exited = new Promise<void>((resolve) => { worker.once('exit', () => resolve()) })
      slot.rpc?.emit('shutdown')
      const timer = setTimeout(() => { worker.process.kill('SIGKILL') }, deadline)
      await exited
      clearTimeout(timer)
    }))
  }

  #info(s: Slot): WorkerInfo {
    return { role: s.group.role, index: s.index, pid: s.worker?.process.pid, id: s.ready?.id, restarts: s.restarts }
  }

  #fork(slot: Slot): Promise<WorkerReady> {
    return new Promise<WorkerReady>((resolve, reject) => {
      const worker = cluster.fork({ [WORKER_ROLE_ENV]: slot.group.role })
      const rpc = new Rpc((message) => worker.send(message as never))
      slot.worker = worker
      slot.rpc = rpc
      slot.ready = undefined
      slot.startedAt = performance.now()
      let started = false
      for (const [type, handler] of this.#handlers) rpc.handle(type, (payload) => handler(payload, this.#info(slot)))
      rpc.handle('config', () => ({ index: slot.index, config: slot.group.config }))
      rpc.on('ready', (payload) => {
        started = true
        slot.served = true
        slot.ready = payload as WorkerReady
        resolve(slot.ready)
      })
      rpc.on('failed', (payload) => {
        const e = payload as { message: string } & Record<string, unknown>
        if (!started) reject(new WorkerStartError(slot.group.role, e.message, e))
      })
      worker.on('message', (message: unknown) => rpc.receive(message))
      worker.once('exit', (code, signal) => {
        rpc.close()
        slot.ready = undefined
        if (!started) reject(new WorkerStartError(slot.group.role, `a ${slot.group.role} worker exited before serving (${signal ?? `code ${code}`})`))
        if (this.#stopping || !slot.served) return
        this.#restartLater(slot, code, signal)
      })
    })
  }

  #restartLater(slot: Slot, code: number | null, signal: string | null): void {
    const healthyAfter = this.#options.healthyAfterMs ?? 10_000
    if (performance.now() - slot.startedAt >= healthyAfter) slot.crashesInRow = 0
    const base = this.#options.backoffMs ?? 250
    const delay = Math.min(this.#options.maxBackoffMs ?? 10_000, base * 2 ** slot.crashesInRow)
    slot.crashesInRow++
    this.#options.logger.warn({ role: slot.group.role, worker: slot.index, pid: slot.worker?.process.pid, code, signal, restartInMs: delay },
      'worker exited; restarting it')
    slot.timer = setTimeout(() => {
      if (this.#stopping) return
      slot.restarts++
      this.#fork(slot).catch((error: unknown) => {
        // A restart that fails before serving is one more crash in the row: the next waits longer.
        this.#options.logger.error({ role: slot.group.role, worker: slot.index, error: (error as Error).message }, 'worker restart failed')
      })
    }, delay)
  }
}

/**
 * A worker's start failure as the command would have thrown it in one process (a failed listen
 * keeps its `syscall`, `port` and `address`, so it is reported the same way); anything else as is.
 */
export function commandError(error: unknown): unknown {
  return error instanceof WorkerStartError ? Object.assign(new Error(error.message), error.details) : error
}
