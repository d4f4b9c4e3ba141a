import type { Page } from 'playwright-core'
import { launchChromium } from './chromium.js'

/** What a tab saw of one invalidation (the `detail` of the page's `tiercache:invalidated` event, and when). */
export interface SeenInvalidation {
  readonly tags: readonly string[]
  readonly version?: number
  /** When the server published it (its clock), epoch ms. */
  readonly at: number
  /** When the page had dropped its cached copies and was told, epoch ms (the browser's clock: the same machine's). */
  readonly seenAt: number
}

/** What the helper keeps on the page's `window` (typed here: the test program has no DOM types). */
interface PageGlobals {
  __tiercacheSeen: SeenInvalidation[]
  addEventListener(type: string, listener: (event: { detail: Omit<SeenInvalidation, 'seenAt'> }) => void): void
}

/** An open demo tab in its own Chromium (fresh profile). */
export interface InvalidationTab {
  readonly page: Page
  /** Resolves with the first invalidation naming `tag` that the page saw (since it opened); rejects after `timeoutMs`. */
  waitForInvalidation(tag: string, timeoutMs?: number): Promise<SeenInvalidation>
  /** Every invalidation the page saw so far, in order. */
  seen(): Promise<SeenInvalidation[]>
  close(): Promise<void>
}

/**
 * Opens the catalog's demo page (`<baseUrl>/demo?product=<id>&tags=...`: the app, or an edge or
 * proxy in front of it) in a fresh Chromium, waits until its service worker controls it and its
 * event stream is live, and records every invalidation it sees. For end-to-end tests that follow
 * one invalidation through every layer to an open browser tab.
 */
export async function openInvalidationTab(baseUrl: string, options: { product?: number; tags?: readonly string[]; timeoutMs?: number } = {}): Promise<InvalidationTab> {
  const browser = await launchChromium()
  try {
    const page = await browser.context.newPage()
    // Installed before the page's own scripts run: nothing the page sees is missed.
    await page.addInitScript(() => {
      const page = globalThis as unknown as PageGlobals
      page.__tiercacheSeen = []
      page.addEventListener('tiercache:invalidated', (event) => {
        page.__tiercacheSeen.push({ ...event.detail, seenAt: performance.timeOrigin + performance.now() })
      })
    })
    const query = new URLSearchParams({ product: String(options.product ?? 1) })
    if (options.tags !== undefined && options.tags.length > 0) query.set('tags', options.tags.join(','))
    const timeout = options.timeoutMs ?? 60_000
    await page.goto(`${baseUrl}/demo?${query.toString()}`)
    await page.waitForSelector('body[data-connection="live"]', { timeout })
    const sw = await page.getAttribute('body', 'data-sw')
    if (sw !== 'controlled') throw new Error(`the demo page's service worker is not in control: ${sw}`)
    return {
      page,
      async waitForInvalidation(tag, timeoutMs = 60_000) {
        const handle = await page.waitForFunction((t) => {
          return (globalThis as unknown as PageGlobals).__tiercacheSeen.find((d) => d.tags.includes(t)) ?? false
        }, tag, { timeout: timeoutMs })
        return await handle.jsonValue() as SeenInvalidation
      },
      seen: () => page.evaluate(() => (globalThis as unknown as PageGlobals).__tiercacheSeen),
      close: () => browser.close(),
    }
  } catch (error) {
    await browser.close()
    throw error
  }
}
