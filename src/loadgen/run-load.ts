import http from 'node:http'
import { Histogram } from './histogram.js'
import type { LoadSpec } from './load-spec.js'
import { productPath } from './load-spec.js'
import { seededRandom } from './random.js'
import { zipfSampler } from './zipf.js'

/** How a request ended when it did not get a status: no answer in time, or a connection failure (by error code). */
export interface LoadErrors {
  timeouts: number
  /** Connection errors by code (`ECONNREFUSED`, `ECONNRESET`, ...). */
  connection: Record<string, number>
}

/** One second of the run, for progress lines and recovery plots. */
export interface SecondSample {
  readonly second: number
  readonly completed: number
  /** Requests of that second that failed (a 5xx, a timeout, a connection error). */
  readonly failed: number
  readonly maxUs: number
}

/** What a run measured. */
export interface LoadResult {
  readonly spec: LoadSpec
  /** Wall time from the first scheduled request to the last answer, ms. */
  readonly elapsedMs: number
  readonly sent: number
  /** Requests that ended (with a status, a timeout or an error). */
  readonly completed: number
  readonly reads: number
  readonly writes: number
  /** Answers by status code. */
  readonly statuses: Record<string, number>
  /** Answers by status class (`2xx` ...). */
  readonly statusClasses: Record<string, number>
  readonly errors: LoadErrors
  /** Latency of every ended request, µs (open loop: from its scheduled time). */
  readonly latency: Histogram
  readonly readLatency: Histogram
  readonly writeLatency: Histogram
  /** Open loop: most requests that were due but waiting for a free connection at once. */
  readonly maxBacklog: number
  readonly timeline: SecondSample[]
}

/** Live counters, for a progress line. */
export interface LoadProgress {
  readonly elapsedMs: number
  readonly sent: number
  readonly completed: number
  readonly failed: number
  readonly inFlight: number
  readonly latency: Histogram
}

export interface RunOptions {
  /** Called about once a second while the load runs. */
  onProgress?: (progress: LoadProgress) => void
  /** Stops the load early (what was measured is returned). */
  signal?: AbortSignal
}

/** The scheduler wakes at least this often to send what is due (open loop). */
const TICK_MS = 1

/**
 * Runs one load against `spec.target` and returns what it measured. Never throws for what the
 * server does (refusals, resets, timeouts are counted); only a malformed spec throws.
 */
export async function runLoad(spec: LoadSpec, options: RunOptions = {}): Promise<LoadResult> {
  const target = new URL(spec.target)
  const writeTarget = new URL(spec.writeTarget)
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections, maxFreeSockets: spec.connections })
  const random = seededRandom(spec.seed)
  const nextKey = zipfSampler(spec.keys, spec.zipf, random)
  const latency = new Histogram()
  const readLatency = new Histogram()
  const writeLatency = new Histogram()
  const statuses: Record<string, number> = {}
  const statusClasses: Record<string, number> = {}
  const errors: LoadErrors = { timeouts: 0, connection: {} }
  const timeline: SecondSample[] = []
  let sent = 0
  let completed = 0
  let failed = 0
  let reads = 0
  let writes = 0
  let inFlight = 0
  let maxBacklog = 0
  const start = performance.now()
  let second = { completed: 0, failed: 0, maxUs: 0 }
  let secondIndex = 0

  const flushSeconds = (now: number): void => {
    while (now - start >= (secondIndex + 1) * 1000) {
      timeline.push({ second: secondIndex, ...second })
      second = { completed: 0, failed: 0, maxUs: 0 }
      secondIndex++
    }
  }

  /** Sends one request; resolves when it ended. `since` is when latency starts (scheduled or sent). */
  const send = (since: number): Promise<void> => new Promise((resolve) => {
    const id = nextKey()
    const write = spec.writeShare > 0 && random() < spec.writeShare
    sent++
    inFlight++
    if (write) writes++
    else reads++
    let ended = false
    const end = (status: number | undefined, error: string | undefined): void => {
      if (ended) return
      ended = true
      inFlight--
      completed++
      const now = performance.now()
      const us = (now - since) * 1000
      latency.record(us)
      ;(write ? writeLatency : readLatency).record(us)
      flushSeconds(now)
      second.completed++
      if (us > second.maxUs) second.maxUs = us
      if (status !== undefined) {
        statuses[status] = (statuses[status] ?? 0) + 1
        const cls = `${Math.floor(status / 100)}xx`
        statusClasses[cls] = (statusClasses[cls] ?? 0) + 1
        if (status >= 500) { failed++; second.failed++ }
      } else {
        failed++
        second.failed++
        if (error === 'timeout') errors.timeouts++
        else errors.connection[error ?? 'error'] = (errors.connection[error ?? 'error'] ?? 0) + 1
      }
      resolve()
    }
    const body = write ? JSON.stringify({ stock: Math.floor(random() * 1000) }) : undefined
    const req = http.request({
      host: (write ? writeTarget : target).hostname,
      port: (write ? writeTarget : target).port,
      path: productPath(id),
      method: write ? 'PATCH' : 'GET',
      agent,
      headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume()
      res.once('end', () => end(res.statusCode ?? 0, undefined))
      res.once('error', (e: NodeJS.ErrnoException) => end(undefined, e.code ?? 'ERESPONSE'))
    })
    // No byte for timeoutMs on the socket (or none assigned at all: see the open-loop backlog).
    req.setTimeout(spec.timeoutMs, () => { req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })) })
    req.once('error', (e: NodeJS.ErrnoException) => end(undefined, e.code ?? 'ERROR'))
    req.end(body)
  })

  const progress = (): LoadProgress => ({ elapsedMs: performance.now() - start, sent, completed, failed, inFlight, latency })
  const ticker = options.onProgress === undefined ? undefined : setInterval(() => options.onProgress!(progress()), 1000)
  const aborted = (): boolean => options.signal?.aborted === true
  const deadline = start + spec.durationMs
  const pending = new Set<Promise<void>>()
  const track = (p: Promise<void>): void => {
    pending.add(p)
    void p.then(() => pending.delete(p))
  }

  try {
    if (spec.mode === 'open') {
      const interval = 1000 / spec.rate
      const total = Math.floor((spec.durationMs / 1000) * spec.rate)
      let next = 0
      while (next < total && !aborted()) {
        const now = performance.now()
        // Everything due by now leaves now, each timed from its own slot in the timetable: if this
        // loop (or the machine) lagged, the lag is part of the latency, as a user would see it.
        while (next < total && start + next * interval <= now) {
          track(send(start + next * interval))
          next++
        }
        const waiting = inFlight - Object.values(agent.sockets).reduce((n, list) => n + (list?.length ?? 0), 0)
        if (waiting > maxBacklog) maxBacklog = waiting
        if (next < total) await sleep(Math.max(0, Math.min(TICK_MS, start + next * interval - performance.now())))
      }
    } else {
      const client = async (): Promise<void> => {
        while (performance.now() < deadline && !aborted()) await send(performance.now())
      }
      await Promise.all(Array.from({ length: spec.connections }, client))
    }
    await Promise.all(pending)
  } finally {
    if (ticker !== undefined) clearInterval(ticker)
    agent.destroy()
  }
  const elapsedMs = performance.now() - start
  if (second.completed > 0) timeline.push({ second: secondIndex, ...second })
  return { spec, elapsedMs, sent, completed, reads, writes, statuses, statusClasses, errors, latency, readLatency, writeLatency, maxBacklog, timeline }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
