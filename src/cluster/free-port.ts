import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * A port free now on `host`, taken from the system and released. Workers of different roles must
 * not listen on port 0: node:cluster shares one listening socket per (address, port 0) between
 * every worker that asks, so an edge and an app both asking for "any free port" would be handed
 * the same one. The primary resolves 0 to a real port first (another program could take it in
 * between: then the workers' listen fails as for any taken port).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}
