import { createServer } from 'node:http'
import type { Server } from 'node:http'

/**
 * A small origin for CDN tests: every GET answers `<path> v<n>` where n counts the requests that
 * reached it for that path, with the headers `respond` gives (Cache-Control, Surrogate-Key).
 */
export interface TestOrigin {
  readonly port: number
  /** Requests that reached the origin for `path`. */
  hits(path: string): number
  close(): Promise<void>
}

export async function startOrigin(respond: (path: string) => Record<string, string>): Promise<TestOrigin> {
  const counts = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/'
    const n = (counts.get(path) ?? 0) + 1
    counts.set(path, n)
    res.writeHead(200, { 'content-type': 'text/plain', ...respond(path) })
    res.end(`${path} v${n}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    hits: (path) => counts.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => { resolve() })
    }),
  }
}
