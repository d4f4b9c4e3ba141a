import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { silentLogger } from '../../src/core/logger.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'
import { openInvalidationTab } from '../helpers/browser-tab.js'
import type { InvalidationTab } from '../helpers/browser-tab.js'
import { launchChromium } from '../helpers/chromium.js'

// The browser layer in real Chromium against the real stack (PGlite, change capture, the catalog
// app, the edge): the service worker, its byte-bounded Cache Storage, and invalidations reaching
// an open page over the event stream.
const PRODUCTS = 300
/** Generous: the machine is shared; these bound a wait, they assert nothing about speed. */
const WAIT = 60_000

/** The page's globals these tests read (the test program is typed for Node, not the DOM). */
interface PageGlobals {
  caches: { open(name: string): Promise<{
    keys(): Promise<{ url: string }[]>
    match(request: string | { url: string }): Promise<{ json(): Promise<unknown>; arrayBuffer(): Promise<ArrayBuffer> } | undefined>
  }> }
  tiercache: { workerStats(): Promise<Record<string, number>> }
  notReloaded?: boolean
}

let stack: Stack
const opened: { close(): Promise<void> }[] = []
const pageErrors: string[] = []

async function demo(product: number, extra = '', base = stack.appUrl): Promise<Page> {
  const browser = await launchChromium()
  opened.push(browser)
  const page = await browser.context.newPage()
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  await page.goto(`${base}/demo?product=${product}${extra}`)
  await page.waitForSelector('body[data-connection="live"]', { timeout: WAIT })
  expect(await page.getAttribute('body', 'data-sw')).toBe('controlled')
  return page
}

const priceOf = async (id: number): Promise<number> => (await stack.db.query<{ price_cents: number }>('select price_cents from products where id = $1', [id])).rows[0]!.price_cents

beforeAll(async () => {
  stack = await startStack({ port: 0, appPort: 0, products: PRODUCTS, logger: silentLogger })
}, 120_000)

afterAll(async () => {
  for (const browser of opened) await browser.close().catch(() => {})
  await stack?.close()
})

describe('browser client layer in Chromium', () => {
  it('serves a product offline from the service worker', async () => {
    const page = await demo(2)
    const price = String(await priceOf(2))
    expect(await page.getAttribute('body', 'data-price')).toBe(price)
    const context = page.context()
    await context.setOffline(true)
    try {
      const navigation = await page.reload()
      // The document came from the worker's cache (network-first fell back), and so did the product.
      expect(navigation?.fromServiceWorker()).toBe(true)
      await page.waitForSelector(`body[data-price="${price}"]`, { timeout: WAIT })
      expect(await page.locator('#price').innerText()).toBe((Number(price) / 100).toFixed(2))
      // Offline for real: the event stream cannot connect.
      expect(await page.getAttribute('body', 'data-connection')).not.toBe('live')
    } finally {
      await context.setOffline(false)
    }
  })

  it('shows a price changed in the database on the open page, without a reload (page, API and event stream through the edge)', async () => {
    const page = await demo(5, '', stack.edgeUrl)
    await page.evaluate(() => { (globalThis as unknown as PageGlobals).notReloaded = true })
    // SQL, not the API: change capture turns the commit into the invalidation.
    const sqlPrice = (await priceOf(5)) + 1111
    await stack.db.query('update products set price_cents = $1, version = version + 1 where id = 5', [sqlPrice])
    await page.waitForSelector(`body[data-price="${sqlPrice}"]`, { timeout: WAIT })
    expect(await page.locator('#price').innerText()).toBe((sqlPrice / 100).toFixed(2))
    // Through the app's API as well.
    const apiPrice = sqlPrice + 1
    const put = await fetch(`${stack.appUrl}/api/products/5`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ price_cents: apiPrice }) })
    expect(put.status).toBe(200)
    await page.waitForSelector(`body[data-price="${apiPrice}"]`, { timeout: WAIT })
    expect(Number(await page.getAttribute('body', 'data-invalidations'))).toBeGreaterThanOrEqual(2)
    expect(await page.getAttribute('body', 'data-last-tags')).toBe('product:5')
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).notReloaded)).toBe(true)
    // The worker's copy is the new one: the old was dropped by tag, and the refetch stored the new.
    const stored = await page.evaluate(async () => {
      const { caches } = globalThis as unknown as PageGlobals
      const response = await (await caches.open('tiercache-v1')).match('/api/products/5')
      return response === undefined ? undefined : (await response.json() as { price_cents: number }).price_cents
    })
    expect(stored).toBe(apiPrice)
  })

  it('keeps Cache Storage under its byte bound after filling it with more than it holds', async () => {
    const bound = 64 * 1024
    const page = await demo(1, `&cacheBytes=${bound}`)
    // 100 list answers of growing size: about 850 KB in all, 13 times the bound.
    const fetched = await page.evaluate(async () => {
      let bytes = 0
      for (let n = 1; n <= 100; n++) bytes += (await (await fetch(`/api/products?top=${n}`)).arrayBuffer()).byteLength
      return bytes
    })
    expect(fetched).toBeGreaterThan(10 * bound)
    const stats = await page.evaluate(() => (globalThis as unknown as PageGlobals).tiercache.workerStats())
    // What Cache Storage really holds, read back body by body.
    const held = await page.evaluate(async () => {
      const cache = await (globalThis as unknown as PageGlobals).caches.open('tiercache-v1')
      const urls: string[] = []
      let bytes = 0
      for (const request of await cache.keys()) {
        urls.push(new URL(request.url).pathname + new URL(request.url).search)
        bytes += (await (await cache.match(request))!.arrayBuffer()).byteLength
      }
      return { urls, bytes }
    })
    expect(stats.maxBytes).toBe(bound)
    expect(held.bytes).toBeLessThanOrEqual(bound)
    expect(held.bytes).toBe(stats.bytes)
    expect(stats.evictions).toBeGreaterThan(0)
    // Least recently used went first: the last list is there, the first ones are not.
    expect(held.urls).toContain('/api/products?top=100')
    expect(held.urls).not.toContain('/api/products?top=1')
  })

  it('resolves the end-to-end helper when the tab sees an invalidation of a tag', async () => {
    let tab: InvalidationTab | undefined
    try {
      tab = await openInvalidationTab(stack.appUrl, { product: 7, tags: ['products'] })
      const before = Date.now()
      await stack.cache.invalidateTags(['products'])
      const seen = await tab.waitForInvalidation('products')
      expect(seen.tags).toEqual(['products'])
      expect(seen.seenAt).toBeGreaterThanOrEqual(before)
    } finally {
      await tab?.close()
    }
  })

  it('had no page error', () => {
    expect(pageErrors, pageErrors.join('\n')).toEqual([])
  })
})
