import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Page } from 'playwright-core'
import { silentLogger } from '../../src/core/logger.js'
import { startDashboard } from '../../src/dashboard/dashboard.js'
import type { Dashboard } from '../../src/dashboard/dashboard.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'
import { launchChromium } from '../helpers/chromium.js'
import { freshNamespace } from '../helpers/namespace.js'

// The dashboard of a stack with Redis (what `npm start` runs when a redis-server is there): the L2
// card and state are live, not "not configured" as in the L1-only stack of dashboard-browser.test.ts.
const PRODUCTS = 100
/** Screenshots land here (ignored by git): a test artifact CI can keep. */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

let stack: Stack
let dashboard: Dashboard
let browser: Awaited<ReturnType<typeof launchChromium>>
let page: Page
const consoleErrors: string[] = []

/** Waits until `selector`'s text satisfies `test`, one live sample at a time. */
async function waitForText(selector: string, test: (text: string) => boolean): Promise<string> {
  const locator = page.locator(selector)
  for (;;) {
    const t = await locator.innerText()
    if (test(t)) return t
    const seen = await page.locator('body').getAttribute('data-samples')
    await page.waitForSelector(`body:not([data-samples="${seen}"])`)
  }
}

beforeAll(async () => {
  stack = await startStack({ port: 0, appPort: 0, products: PRODUCTS, namespace: freshNamespace('dash'), redisUrl: inject('redisUrl'), logger: silentLogger })
  dashboard = await startDashboard({ ...stack, products: PRODUCTS })
  browser = await launchChromium()
  page = await browser.context.newPage()
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  page.on('pageerror', (error) => { consoleErrors.push(error.message) })
  await page.goto(dashboard.url)
  await page.waitForSelector('body:not([data-samples="0"])')
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
  await stack?.close()
})

describe('live dashboard in Chromium, stack with Redis', () => {
  it('shows L2 live: its breaker, the Redis bus, and its requests and hit ratio under a load', async () => {
    await waitForText('#state-l2-breaker', (t) => t === 'closed')
    await waitForText('#state-bus', (t) => t.endsWith(', connected') && !t.startsWith('memory'))
    await page.fill('#load-rate', '100')
    await page.fill('#load-duration', '3')
    await page.click('#load-start')
    // Every L1 miss asks Redis: the first reads of each product reach L2.
    await waitForText('#l2-rps', (t) => Number(t) > 0)
    await waitForText('#l2-hit', (t) => t.endsWith('%'))
    expect(await page.locator('#chart-l2-traffic .uplot').count()).toBe(1)
    await page.waitForSelector('#load-status[data-running="false"]')
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}dashboard-redis.png`, fullPage: true })
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([])
  })
})
