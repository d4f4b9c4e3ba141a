/**
 * Child process for `npm run bench:edge`: one server per process so each can be pinned to a core.
 *   node --import tsx bench/edge-server.ts bare            the limit: node:http writing the same bytes
 *   node --import tsx bench/edge-server.ts origin          the edge's and nginx's origin (hit once)
 *   node --import tsx bench/edge-server.ts edge <origin>   the tiercache edge
 * Prints `READY <port>` when listening.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { silentLogger } from '../src/core/logger.js'
import { createEdge } from '../src/edge/index.js'
import { BENCH_BODY, BENCH_HEADERS } from './edge-body.js'

const [role, origin] = process.argv.slice(2)
// Exit cleanly on SIGTERM so a profiler wrapping this process (callgrind) writes its totals.
process.on('SIGTERM', () => process.exit(0))

async function main(): Promise<void> {
  if (role === 'edge') {
    const edge = createEdge({ origin: origin ?? '', logger: silentLogger, id: 'bench-edge' })
    const url = await edge.listen(0)
    console.log(`READY ${new URL(url).port}`)
    return
  }
  let server: http.Server
  if (role === 'bare') {
    // The same status, headers and body bytes the edge writes on a hit (Date and the connection
    // headers are added by node:http for both).
    const headers = [...BENCH_HEADERS, 'content-length', String(BENCH_BODY.length), 'age', '0', 'x-cache', 'HIT']
    server = http.createServer((_req, res) => {
      res.writeHead(200, headers)
      res.end(BENCH_BODY)
    })
  } else if (role === 'origin') {
    server = http.createServer((_req, res) => {
      res.writeHead(200, [...BENCH_HEADERS, 'content-length', String(BENCH_BODY.length)])
      res.end(BENCH_BODY)
    })
  } else {
    throw new Error(`unknown role ${String(role)}`)
  }
  server.listen(0, '127.0.0.1', () => console.log(`READY ${(server.address() as AddressInfo).port}`))
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
