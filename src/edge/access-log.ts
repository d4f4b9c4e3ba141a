import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { EdgeResult } from './metrics.js'
import type { AccessLogEntry } from './options.js'

/**
 * The access log path: the request path, then the names of its query parameters without their
 * values (`/search?q&token`). Query values carry search terms, tokens and e-mail addresses often
 * enough that a log must not hold them; names tell which variant of a URL was asked for.
 */
export function loggedPath(url: string): string {
  const hash = url.indexOf('#')
  if (hash !== -1) url = url.slice(0, hash)
  const q = url.indexOf('?')
  if (q === -1) return url
  const names = url.slice(q + 1).split('&').filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=')
    return eq === -1 ? p : p.slice(0, eq)
  })
  return names.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${names.join('&')}`
}

/** What one request's answer was, recorded where it is decided and read when the response ends. */
interface Answer {
  result: EdgeResult
  bytes: number
}

/**
 * One entry per request, written when the response ends (or the connection closes under it). Only
 * built when the access log is on: the hit path pays one `close` listener and a map entry then.
 */
export class AccessLog {
  readonly #write: (entry: AccessLogEntry) => void
  readonly #clock: Clock
  readonly #answers = new WeakMap<ServerResponse, Answer>()

  constructor(sink: true | ((entry: AccessLogEntry) => void), logger: Logger, clock: Clock) {
    this.#clock = clock
    this.#write = sink === true
      ? (entry) => { logger.info?.(entry as unknown as Record<string, unknown>, 'edge access') }
      : sink
  }

  /** Starts timing a request; the entry is written when `res` closes. */
  begin(req: IncomingMessage, res: ServerResponse, url: string): void {
    const time = this.#clock.now()
    const started = performance.now()
    const method = req.method ?? 'GET'
    res.once('close', () => {
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000
      // A streamed answer is counted when its stream settles, just after 'close': wait one turn.
      setImmediate(() => this.#entry(res, time, method, url, durationMs))
    })
  }

  #entry(res: ServerResponse, time: number, method: string, url: string, durationMs: number): void {
    const answer = this.#answers.get(res)
    const entry: AccessLogEntry = {
      time,
      method,
      path: loggedPath(url),
      status: res.headersSent ? res.statusCode : 0,
      cache: (answer?.result ?? 'aborted').toUpperCase(),
      bytes: answer?.bytes ?? 0,
      durationMs,
    }
    try {
      this.#write(entry)
    } catch {
      // A broken log sink must not break the edge.
    }
  }

  /** Records how the request was answered. */
  answered(res: ServerResponse, result: EdgeResult, bytes: number): void {
    this.#answers.set(res, { result, bytes })
  }
}
