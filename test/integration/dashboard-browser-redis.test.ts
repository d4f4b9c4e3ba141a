import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { silentLogger } from '../../src/core/logger.js'
import { startDashboard } from '../../src/dashboard/dashboard.js'
import type { Dashboard } from '../../src/dashboard/dashboard.js'
import { findOnPath, startRedisServer } from '../../src/stack/redis-server.js'
import type { OwnRedis } from '../../src/stack/redis-server.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'
import { openDashboardTab, waitForText as waitForPageText } from '../helpers/dashboard-page.js'
import type { DashboardTab } from '../helpers/dashboard-page.js'
import { freshNamespace } from '../helpers/namespace.js'

// The dashboard of a stack with Redis (what `npm start` runs when a redis-server is there): the L2
// card and state are live, not "not configured" as in the L1-only stack of dashboard-browser.test.ts.
// Its Redis is a redis-server of its own, started as `npm start` starts one (startRedisServer), so
// the page's Redis faults may stop and slow it; the shared Redis of the other tests is never touched.
const PRODUCTS = 100
/** Screenshots land here (ignored by git): a test artifact CI can keep. */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

let own: OwnRedis
let stack: Stack
let dashboard: Dashboard
let tab: DashboardTab
let page: Page
let consoleErrors: string[] = []
/** Waits until `selector`'s text satisfies `test` (the page updates it from the live stream). */
const waitForText = (selector: string, test: (text: string) => boolean): Promise<string> => waitForPageText(page, selector, test)

beforeAll(async () => {
  const binary = findOnPath('redis-server')
  if (binary === undefined) throw new Error('redis-server is not on PATH: apt-get install -y redis-server')
  own = await startRedisServer(binary)
  stack = await startStack({ port: 0, appPort: 0, products: PRODUCTS, namespace: freshNamespace('dash'), redisUrl: own.url, logger: silentLogger })
  dashboard = await startDashboard({ ...stack, products: PRODUCTS, ownRedis: own })
  tab = await openDashboardTab(dashboard.url)
  page = tab.page
  consoleErrors = tab.consoleErrors
}, 120_000)

afterAll(async () => {
  await tab?.close()
  await dashboard?.close()
  await stack?.close()
  await own?.stop()
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

  // With Redis hung every update waits out L2 timeouts until the breaker opens: about 10 s on an
  // idle machine, several times that on a loaded one (CI ran past the default 60 s once).
  it('Redis stopped from the page: the L2 breaker opens, the bus disconnects, reads come from the database, the change waits in the outbox; Redis normal brings it all back', async () => {
    expect(await page.locator('#redis-stop').isEnabled()).toBe(true)
    expect(await page.locator('#redis-reason').isHidden()).toBe(true)
    await waitForText('#state-l2-breaker', (t) => t === 'closed')
    await page.click('#redis-stop')
    await page.waitForSelector('#fault-state[data-redis="stopped"]')
    expect(await page.locator('#fault-state').innerText()).toContain('Redis stopped')
    // The bus's blocking read times out on a hung server.
    await waitForText('#state-bus', (t) => t.endsWith(', disconnected'))
    // Writes and reads with Redis hung: each update's invalidation and reads ask L2, which times
    // out, until its breaker opens; the app and the edge still answer the new version (L1 missed,
    // the loader read the database). Update products until the page shows the breaker open.
    for (let id = 7; ; id++) {
      await page.fill('#update-id', String(id))
      await page.click('#update-run')
      await waitForText('#update-status', (t) => new RegExp(`^product ${id} is version 2 .* in every layer$`).test(t))
      const seen = await page.locator('body').getAttribute('data-samples')
      await page.waitForSelector(`body:not([data-samples="${seen}"])`)
      if (await page.locator('#state-l2-breaker').innerText() === 'open') break
    }
    expect(await page.locator('#state-l2-breaker').getAttribute('class')).toContain('bad')
    expect(Number(await page.locator('#state-l2-failures').innerText())).toBeGreaterThan(0)
    // Their invalidations cannot be published while Redis does not answer: they wait in the outbox.
    await waitForText('#state-outbox', (t) => Number(t) > 0)
    await page.click('#redis-ok')
    await page.waitForSelector('#fault-state[data-redis="ok"]')
    await waitForText('#state-l2-breaker', (t) => t === 'closed')
    await waitForText('#state-bus', (t) => t.endsWith(', connected'))
    await waitForText('#state-outbox', (t) => t === '0')
    // Published once Redis was back: the lag counts the time it waited.
    await waitForText('#state-capture-lag', (t) => /^\d+ ms \/ \d+ ms$/.test(t))
    expect(Number(await page.locator('#capture-lag').innerText())).toBeGreaterThan(0)
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([])
  }, 180_000)

  it('Redis slow from the page: its stalls make L2 calls time out (failures counted, the answers still come); Redis normal ends them', async () => {
    await waitForText('#state-l2-breaker', (t) => t === 'closed')
    const before = Number(await page.locator('#state-l2-failures').innerText())
    await page.click('#redis-slow')
    await page.waitForSelector('#fault-state[data-redis="slow"]')
    expect(await page.locator('#fault-state').innerText()).toContain('Redis slow')
    // Each update makes a few L2 calls (invalidation, bus, reads); one landing early in a stall
    // outlasts the L2 timeout. Update until the page counts one: each answer still arrives.
    let version = 1
    for (;;) {
      await page.fill('#update-id', '9')
      await page.click('#update-run')
      version++
      await waitForText('#update-status', (t) => t.startsWith(`product 9 is version ${version} `))
      const seen = await page.locator('body').getAttribute('data-samples')
      await page.waitForSelector(`body:not([data-samples="${seen}"])`)
      if (Number(await page.locator('#state-l2-failures').innerText()) > before) break
    }
    await page.click('#redis-ok')
    await page.waitForSelector('#fault-state[data-redis="ok"]')
    await waitForText('#state-l2-breaker', (t) => t === 'closed')
    await waitForText('#state-bus', (t) => t.endsWith(', connected'))
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([])
  }, 180_000)
})
