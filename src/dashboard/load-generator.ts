import http from 'node:http'
import { zipfCdf } from '../loadgen/zipf.js'

/** A load: requests per second, Zipf skew of the product ids (0 uniform, ~1 typical), seconds. */
export interface LoadSpec {
  readonly rate: number
  readonly skew: number
  readonly duration: number
}

export interface LoadStatus {
  readonly running: boolean
  readonly spec: LoadSpec | undefined
  readonly sent: number
  readonly ok: number
  readonly failed: number
  /** Requests not sent because too many were already waiting (the stack could not keep up). */
  readonly dropped: number
  readonly remainingSeconds: number
}

/** Requests allowed in flight before the generator drops instead of queueing more. */
const MAX_IN_FLIGHT = 256
const TICK_MS = 20

/**
 * Sends GET /api/products/:id to the edge at a steady rate, ids drawn from a Zipf distribution
 * over the catalog, and records each response time (what a client sees). One load at a time: a
 * new one replaces the running one.
 */
export class LoadGenerator {
  readonly #edgeUrl: URL
  readonly #products: number
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  #timer: NodeJS.Timeout | undefined
  #spec: LoadSpec | undefined
  #cdf: Float64Array = new Float64Array(0)
  #startedAt = 0
  #sent = 0
  #ok = 0
  #failed = 0
  #dropped = 0
  #inFlight = 0
  #latencies: number[] = []

  constructor(edgeUrl: string, products: number) {
    this.#edgeUrl = new URL(edgeUrl)
    this.#products = products
  }

  start(spec: LoadSpec): void {
    this.stop()
    this.#spec = spec
    this.#cdf = zipfCdf(this.#products, spec.skew)
    this.#startedAt = performance.now()
    this.#sent = 0
    this.#ok = 0
    this.#failed = 0
    this.#dropped = 0
    this.#timer = setInterval(() => this.#tick(), TICK_MS)
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  status(): LoadStatus {
    const spec = this.#spec
    const elapsed = (performance.now() - this.#startedAt) / 1000
    return {
      running: this.#timer !== undefined,
      spec,
      sent: this.#sent,
      ok: this.#ok,
      failed: this.#failed,
      dropped: this.#dropped,
      remainingSeconds: this.#timer === undefined || spec === undefined ? 0 : Math.max(0, Math.ceil(spec.duration - elapsed)),
    }
  }

  /** Response times (ms) recorded since the last call. */
  takeLatencies(): number[] {
    const l = this.#latencies
    this.#latencies = []
    return l
  }

  close(): void {
    this.stop()
    this.#agent.destroy()
  }

  #tick(): void {
    const spec = this.#spec as LoadSpec
    const elapsed = (performance.now() - this.#startedAt) / 1000
    if (elapsed >= spec.duration) {
      this.stop()
      return
    }
    const due = Math.floor(spec.rate * elapsed) - this.#sent - this.#dropped
    for (let i = 0; i < due; i++) {
      if (this.#inFlight >= MAX_IN_FLIGHT) {
        this.#dropped++
        continue
      }
      this.#sent++
      this.#request(this.#pick())
    }
  }

  #pick(): number {
    const u = Math.random()
    let lo = 0
    let hi = this.#cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.#cdf[mid] as number) < u) lo = mid + 1
      else hi = mid
    }
    return lo + 1
  }

  #request(id: number): void {
    this.#inFlight++
    const started = performance.now()
    let settled = false
    const done = (ok: boolean): void => {
      if (settled) return
      settled = true
      this.#inFlight--
      if (ok) this.#ok++
      else this.#failed++
      if (this.#latencies.length < 100_000) this.#latencies.push(performance.now() - started)
    }
    const req = http.get({ host: this.#edgeUrl.hostname, port: this.#edgeUrl.port, path: `/api/products/${id}`, agent: this.#agent, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => done((res.statusCode ?? 500) < 400))
      res.on('error', () => done(false))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => done(false))
  }
}

/** The Zipf table is shared with `tiercache loadgen`. */
export { zipfCdf }
