import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryBus } from '../../src/bus/memory-bus.js'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { openPglite } from '../../src/db/pglite-database.js'
import type { Database } from '../../src/db/database.js'
import { createCatalogApp, seedCatalog } from '../../src/stack/catalog-app.js'
import { launchChromium } from '../helpers/chromium.js'
import { openEventStream } from '../helpers/event-stream.js'

// A page whose event stream the server refuses (it holds its maximum of streams) keeps trying, and
// once a slot frees it is live again and resyncs: it cannot know what it missed in between.
let db: Database
let bus: MemoryBus
let cache: TierCache
let app: Server
let base: string
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined

beforeAll(async () => {
  db = await openPglite()
  await seedCatalog(db, 5)
  bus = new MemoryBus()
  cache = createCache({ namespace: 'client-reconnect', bus })
  app = createCatalogApp({ db, cache, eventStream: { maxSubscribers: 1 } })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await new Promise<void>((resolve) => { app?.close(() => resolve()); app?.closeAllConnections() })
  await cache?.close()
  await bus?.close()
  await db?.close()
})

describe('browser client when the server refuses its event stream', () => {
  it('retries with back-off, then is live and resyncs, and hears invalidations again', async () => {
    const holder = await openEventStream(base, '/_tiercache/events?tags=other')
    expect(holder.status).toBe(200)
    browser = await launchChromium()
    const page = await browser.context.newPage()
    const refused = page.waitForResponse((r) => r.url().includes('/_tiercache/events/') && r.status() === 429, { timeout: 60_000 })
    await page.goto(`${base}/demo?product=1`)
    await refused
    await page.waitForSelector('body[data-connection="reconnecting"]', { timeout: 60_000 })
    holder.close()
    await page.waitForSelector('body[data-connection="live"]', { timeout: 60_000 })
    await page.waitForSelector('body[data-resyncs="1"]', { timeout: 60_000 })
    await cache.invalidateTags(['product:1'])
    await page.waitForSelector('body[data-invalidations="1"]', { timeout: 60_000 })
  })
})
