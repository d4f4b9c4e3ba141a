import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '../../src/core/logger.js'
import { ManualClock } from '../../src/core/manual-clock.js'
import { createEdge } from '../../src/edge/index.js'
import type { Edge, EdgeOptions } from '../../src/edge/index.js'

/** A request as the origin saw it. */
export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** A real node:http origin on port 0 that records every request it receives. */
export interface TestOrigin {
  readonly url: string
  readonly seen: SeenRequest[]
  /** Requests received (optionally for one path). */
  count(path?: string): number
  close(): Promise<void>
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void | Promise<void>

/**
 * Starts the origin. With `now`, every response carries `Date` from that clock (the edge's manual
 * clock), so the apparent age RFC 9111 computes from `Date` moves with the test's time.
 */
export async function startOrigin(handler: OriginHandler, now?: () => number): Promise<TestOrigin> {
  const seen: SeenRequest[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      if (now !== undefined) res.setHeader('date', new Date(now()).toUTCString())
      Promise.resolve(handler(req, res, body, seen.length)).catch((error: unknown) => {
        res.statusCode = 500
        res.end(String(error))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    count: (path?: string) => (path === undefined ? seen.length : seen.filter((s) => s.url === path).length),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

/** An edge on port 0 with a manual clock starting now, quiet logger. */
export async function startEdge(options: Omit<EdgeOptions, 'clock'> & { clock?: ManualClock }): Promise<{ edge: Edge; url: string; clock: ManualClock }> {
  const clock = options.clock ?? new ManualClock(Date.now())
  const edge = createEdge({ logger: silentLogger, ...options, clock })
  const url = await edge.listen(0)
  return { edge, url, clock }
}

/** A fetch that never reuses connections in a way that hides a closed socket, returning status, headers and text. */
export async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(url, init)
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** Sends raw bytes on a fresh socket and resolves with everything the server wrote before closing (or after `idleMs`). */
export function rawRequest(url: string, bytes: string | Buffer, idleMs = 300): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname)
    let out = ''
    const timer = setTimeout(() => socket.destroy(), idleMs)
    socket.on('data', (d: Buffer) => { out += d.toString('latin1') })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(out)
    })
    socket.write(bytes)
  })
}

/** A promise with its resolve function, for origins that hold responses until a test lets them go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}
