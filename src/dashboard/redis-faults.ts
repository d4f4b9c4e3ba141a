import { createConnection } from 'node:net'
import type { Socket } from 'node:net'

/** What the dashboard can make Redis do. */
export type RedisMode = 'ok' | 'slow' | 'stopped'

/** While `slow`, Redis stalls this long... */
export const SLOW_STALL_MS = 150
/** ...at the start of every period this long. */
export const SLOW_PERIOD_MS = 250

/** A redis-server the stack started itself (see `startRedisServer`): the only kind faults touch. */
export interface FaultableRedis {
  readonly port: number
  /** Freezes the process (SIGSTOP). */
  hang(): void
  /** Continues it (SIGCONT). */
  resume(): void
}

/**
 * Faults of a redis-server the stack owns, made with the real server rather than a mock in the
 * client, so the cache's own machinery (command timeouts, the L2 breaker, the bus reconnecting,
 * fail-safe stale values) is what reacts:
 *
 * - `stopped` freezes the process with SIGSTOP. The port stays open and connections stay up, but
 *   nothing is answered: the hung Redis, the harder case for a client (a refused connection fails
 *   at once, a hung one only times out). Its data (L2 entries, the invalidation stream) is kept,
 *   and `ok` is one SIGCONT, which cannot fail the way a restart on the same port can (the port
 *   taken meanwhile). The owner resumes it before stopping it, so the stack's shutdown is clean.
 * - `slow` sends `CLIENT PAUSE 150 ALL` every 250 ms on a connection of its own: every client's
 *   commands wait while a stall lasts, a real delay inside Redis. Calls that arrive early in a
 *   stall outlast the cache's L2 timeout (100 ms by default) and count as failures; `l2.breakerThreshold` of them in a row
 *   opens the breaker. `CLIENT PAUSE` needs no configuration (`DEBUG SLEEP` needs
 *   `enable-debug-command`), and a stall cannot be cut short (in Redis 7.0 the `CLIENT UNPAUSE`
 *   waits for it too): leaving `slow` stops sending them, and the last one ends by itself.
 */
export class RedisFaults {
  #mode: RedisMode = 'ok'
  readonly #redis: FaultableRedis
  #slicer: { socket: Socket; timer: NodeJS.Timeout } | undefined

  constructor(redis: FaultableRedis) {
    this.#redis = redis
  }

  get mode(): RedisMode {
    return this.#mode
  }

  set(mode: RedisMode): void {
    if (mode === this.#mode) return
    this.#stopSlowing()
    this.#redis.resume()
    if (mode === 'stopped') this.#redis.hang()
    if (mode === 'slow') this.#startSlowing()
    this.#mode = mode
  }

  /** Back to normal: always possible, whatever the mode. */
  restore(): void {
    this.#stopSlowing()
    this.#redis.resume()
    this.#mode = 'ok'
  }

  #startSlowing(): void {
    const socket = createConnection({ port: this.#redis.port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    // Replies (+OK) are not needed; an error (the server gone) ends the slicing.
    socket.on('data', () => {})
    const stall = (): void => { if (!socket.destroyed) socket.write(`CLIENT PAUSE ${SLOW_STALL_MS} ALL\r\n`) }
    const timer = setInterval(stall, SLOW_PERIOD_MS)
    socket.on('error', () => clearInterval(timer))
    socket.once('connect', stall)
    this.#slicer = { socket, timer }
  }

  #stopSlowing(): void {
    if (this.#slicer === undefined) return
    clearInterval(this.#slicer.timer)
    this.#slicer.socket.destroy()
    this.#slicer = undefined
  }
}
