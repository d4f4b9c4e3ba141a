import type { Server } from 'node:http'

/**
 * Stops accepting and lets the requests in flight finish: idle keep-alive connections are closed
 * at once and again as each request ends; whatever still runs after `deadlineMs` is cut.
 */
export function drainServer(server: Server, deadlineMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50)
    const cut = setTimeout(() => server.closeAllConnections(), deadlineMs)
    server.close(() => {
      clearInterval(idle)
      clearTimeout(cut)
      resolve()
    })
    server.closeIdleConnections()
  })
}
