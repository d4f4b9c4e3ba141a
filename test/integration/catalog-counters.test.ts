/**
 * The catalog's database counters (`db.queries`, `db.reads` in `/.stack/stats`, what
 * `tiercache loadgen` and `npm run bench:stack` report per second) and its caching-off switch, on
 * embedded PostgreSQL (PGlite).
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { Database } from '../../src/db/database.js'
import { openPglite } from '../../src/db/pglite-database.js'
import { createCatalogApp, seedCatalog } from '../../src/stack/catalog-app.js'

let db: Database
beforeAll(async () => {
  db = await openPglite()
  await seedCatalog(db, 20)
})
afterAll(async () => { await db.close() })

async function serve(caching: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const cache = createCache({ namespace: `counters-${caching}` })
  const app: Server = createCatalogApp({ db, cache, caching })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise((resolve) => { app.close(resolve); app.closeAllConnections() })
      await cache.close()
    },
  }
}

const stats = async (url: string): Promise<{ db: { queries: number; reads: number }; cache: { l1: { hits: number } } }> =>
  (await fetch(`${url}/.stack/stats`)).json() as Promise<{ db: { queries: number; reads: number }; cache: { l1: { hits: number } } }>

describe('catalog database counters', () => {
  it('caching on: a product read twice costs one query; a write is a query that is not a read', async () => {
    const app = await serve(true)
    try {
      for (let i = 0; i < 2; i++) expect((await fetch(`${app.url}/api/products/3`)).status).toBe(200)
      expect((await stats(app.url)).db).toEqual({ queries: 1, reads: 1 })
      const patch = await fetch(`${app.url}/api/products/3`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"stock":9}' })
      expect(patch.status).toBe(200)
      expect((await stats(app.url)).db).toEqual({ queries: 2, reads: 1 })
      expect((await stats(app.url)).cache.l1.hits).toBe(1)
    } finally {
      await app.close()
    }
  })

  it('caching off: every read is a query, and the cache is never asked', async () => {
    const app = await serve(false)
    try {
      for (let i = 0; i < 3; i++) expect((await fetch(`${app.url}/api/products/4`)).status).toBe(200)
      expect((await fetch(`${app.url}/api/products?top=5`)).status).toBe(200)
      const s = await stats(app.url)
      expect(s.db).toEqual({ queries: 4, reads: 4 })
      expect(s.cache.l1.hits).toBe(0)
    } finally {
      await app.close()
    }
  })
})
