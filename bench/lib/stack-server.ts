/**
 * One side of `npm run bench:stack`, in a process of its own so its CPU time can be read from
 * /proc and the load generator does not share its event loop.
 *
 *   on:  the whole architecture as `tiercache start` runs it (startStack: edge, catalog with L1 +
 *        Redis L2 + the Streams bus, change capture), on free ports
 *   off: the same catalog app with caching off (every read a PostgreSQL query), no edge
 *
 * Prints one JSON line with its URLs once it serves; stops on SIGTERM.
 */
import type { AddressInfo } from 'node:net'
import { createCache } from '../../src/compose/create-cache.js'
import { openPostgres } from '../../src/db/pg-database.js'
import { createCatalogApp } from '../../src/stack/catalog-app.js'
import { startStack } from '../../src/stack/start-stack.js'

const [mode, databaseUrl, redisUrl, products] = process.argv.slice(2) as [string, string, string, string]
// Warnings and errors only: the stack's access log (info) would write a line per request.
const logger = {
  warn: (context: Record<string, unknown>, message: string) => { console.error(`[${mode}] ${message} ${JSON.stringify(context)}`) },
  error: (context: Record<string, unknown>, message: string) => { console.error(`[${mode}] ${message} ${JSON.stringify(context)}`) },
}

let close: () => Promise<void>
if (mode === 'on') {
  const stack = await startStack({ port: 0, appPort: 0, databaseUrl, redisUrl, products: Number(products), logger })
  close = () => stack.close()
  console.log(JSON.stringify({ edgeUrl: stack.edgeUrl, appUrl: stack.appUrl, edgeAdminUrl: stack.edgeAdminUrl }))
} else {
  const db = await openPostgres(databaseUrl)
  const cache = createCache({ namespace: 'bench-off', l1: false, logger })
  const app = createCatalogApp({ db, cache, caching: false, logger })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  close = async () => {
    await new Promise((resolve) => { app.close(resolve); app.closeAllConnections() })
    await cache.close()
    await db.close()
  }
  console.log(JSON.stringify({ appUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}` }))
}
process.once('SIGTERM', () => { void close().finally(() => process.exit(0)) })
