import http from 'node:http'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { EdgeCounters } from './metrics.js'

/**
 * What never reaches the request handler gets an answer with a status line all the same:
 * malformed requests (node:http's parser) get 400 (431 for oversized headers, 408 for a request
 * that took too long) and the connection is closed; CONNECT, which node:http hands to a 'connect'
 * listener and otherwise drops without a word, gets 501 (a reverse proxy tunnels nothing: RFC 9110
 * §9.3.6 is for forward proxies).
 */
export function refuseMalformed(server: Server, counters: EdgeCounters): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    counters.rejected++
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  })
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    counters.requests++
    counters.rejected++
    counters.results.rejected++
    const body = '501 Not Implemented: no tunnels\n'
    socket.end(`HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  })
}

/** Listens on `host:port`; rejects when the address cannot be had. */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** `http://host:port` of a listening server. */
export function baseUrl(server: Server): string {
  const address = server.address() as AddressInfo | null
  if (address === null) throw new Error('edge is not listening')
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}

/** Stops listening and closes every connection, idle or active. */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (server?.listening !== true) {
      resolve()
      return
    }
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
