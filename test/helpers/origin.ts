import { createServer, request } from 'node:http'
import type { Server } from 'node:http'

/**
 * A small origin for CDN tests: every GET answers `<host><path> v<n>`, where n counts the requests
 * that reached it for that host and path, with the headers `respond` gives (Cache-Control,
 * Surrogate-Key). A CDN test reads "the origin was asked again" from the count, not from a clock.
 */
export interface TestOrigin {
  readonly port: number
  /** Requests that reached the origin for `path` on `host`. */
  hits(host: string, path: string): number
  close(): Promise<void>
}

export async function startOrigin(respond: (host: string, path: string) => Record<string, string>): Promise<TestOrigin> {
  const counts = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    const host = req.headers.host ?? ''
    const path = req.url ?? '/'
    const n = (counts.get(host + path) ?? 0) + 1
    counts.set(host + path, n)
    res.writeHead(200, { 'content-type': 'text/plain', ...respond(host, path) })
    res.end(`${host}${path} v${n}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    hits: (host, path) => counts.get(host + path) ?? 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => { resolve() })
    }),
  }
}

/** GETs `path` from a cache at `base` as `host` (node:http: fetch cannot set Host); the body. */
export function getThrough(base: string, host: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { host } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
