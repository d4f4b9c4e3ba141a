import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

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
