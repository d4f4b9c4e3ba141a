import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { silentLogger } from '../../src/core/logger.js'
import { startDashboard } from '../../src/dashboard/dashboard.js'
import type { Dashboard } from '../../src/dashboard/dashboard.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'
import { openDashboardTab, waitForText as waitForPageText } from '../helpers/dashboard-page.js'
import type { DashboardTab } from '../helpers/dashboard-page.js'

/** Screenshots land here (ignored by git): a test artifact CI can keep. */
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const PRODUCTS = 200

let stack: Stack
let dashboard: Dashboard
let tab: DashboardTab
let page: Page
let consoleErrors: string[] = []
/** Waits until `selector`'s text satisfies `test` (the page updates it from the live stream). */
const waitForText = (selector: string, test: (text: string) => boolean): Promise<string> => waitForPageText(page, selector, test)

const text = (selector: string): Promise<string> => page.locator(selector).innerText()

beforeAll(async () => {
  stack = await startStack({ port: 0, appPort: 0, products: PRODUCTS, logger: silentLogger })
  dashboard = await startDashboard({ ...stack, products: PRODUCTS })
  tab = await openDashboardTab(dashboard.url)
  page = tab.page
  consoleErrors = tab.consoleErrors
}, 120_000)

afterAll(async () => {
  await tab?.close()
  await dashboard?.close()
  await stack?.close()
})

describe('live dashboard in Chromium', () => {
  it('shows every layer live over Server-Sent Events, with charts', async () => {
    expect(await text('#connection')).toBe('live')
    for (const layer of ['edge', 'l1', 'l2', 'database']) expect(await page.locator(`#layer-${layer}`).count()).toBe(1)
    expect(await page.locator('#chart-edge-traffic .uplot').count()).toBe(1)
    expect(await page.locator('#chart-database-latency .uplot').count()).toBe(1)
    expect(await page.locator('#charts-missing').isHidden()).toBe(true)
    expect(await text('#l2-rps')).toBe('not configured (REDIS_URL)')
    expect(await text('#state-bus')).toBe('memory, connected')
  })

  it('runs a load: requests per second, hit ratio and latency appear on the edge, L1 and database', async () => {
    await page.fill('#load-rate', '150')
    await page.fill('#load-duration', '3')
    await page.click('#load-start')
    await waitForText('#edge-rps', (t) => Number(t) > 0)
    await waitForText('#database-rps', (t) => Number(t) > 0)
    await waitForText('#edge-p99', (t) => t !== '-')
    await waitForText('#l1-hit', (t) => t.endsWith('%'))
    await page.waitForSelector('#load-status[data-running="false"]')
    expect(await text('#load-status')).toMatch(/^done: \d+ sent/)
    await waitForText('#state-keys', (t) => Number(t.split(' / ')[0]) > 0)
  })

  it('stops a running load long before its end', async () => {
    await page.fill('#load-rate', '50')
    await page.fill('#load-duration', '600')
    await page.click('#load-start')
    await waitForText('#load-status', (t) => /^running: [1-9]\d* sent/.test(t))
    expect(await page.locator('#load-status').getAttribute('data-running')).toBe('true')
    await page.click('#load-stop')
    // The next sample shows it stopped (a 600 s load left running would keep data-running true).
    await page.waitForSelector('#load-status[data-running="false"]')
    expect(await text('#load-status')).toMatch(/^(stopped|done: [1-9]\d* sent)/)
    const state = await (await fetch(`${dashboard.url}/api/state`)).json() as { status: { load: { running: boolean; remainingSeconds: number } } }
    expect(state.status.load).toMatchObject({ running: false, remainingSeconds: 0 })
  })

  it('shows no capture lag before a change, then the lag (ms) and the outbox depth once an update was published', async () => {
    // Seeding writes no outbox rows: nothing has been published yet.
    expect(await text('#state-capture-lag')).toBe('no change yet')
    expect(await text('#capture-lag')).toBe('-')
    expect(await page.locator('#chart-capture-lag .uplot').count()).toBe(1)
    await page.fill('#update-id', '2')
    await page.click('#update-run')
    await page.waitForSelector('#update-status[data-state="done"]')
    const lag = await waitForText('#state-capture-lag', (t) => t !== 'no change yet')
    expect(lag).toMatch(/^\d+ ms \/ \d+ ms$/)
    await waitForText('#capture-published', (t) => Number(t) > 0)
    expect(await text('#capture-lag')).toMatch(/^\d+$/)
    expect(await text('#state-outbox')).toMatch(/^\d+$/)
  })

  it('shows the Redis controls off, with the reason, in a stack without Redis', async () => {
    for (const id of ['#redis-ok', '#redis-slow', '#redis-stop']) expect(await page.locator(id).isDisabled(), id).toBe(true)
    expect(await text('#redis-reason')).toMatch(/without Redis \(L1 only\)/)
    expect(await text('#state-l2-failures')).toBe('no L2')
    expect(await page.locator('#fault-state').getAttribute('data-redis')).toBe('unavailable')
  })

  it('updates a product and shows the delay until each layer answers the new version', async () => {
    await page.fill('#update-id', '3')
    await page.click('#update-run')
    await page.waitForSelector('#update-status[data-state="done"]')
    expect(await text('#update-status')).toMatch(/^product 3 is version \d+ \(price \d+\) in every layer$/)
    for (const layer of ['database', 'app', 'edge']) expect(await text(`#update-result td[data-layer="${layer}"]`)).toMatch(/^\d+\.\d ms$/)
    expect(await text('#update-result td[data-layer="l1"]')).toMatch(/^(\d+\.\d ms|not cached)$/)
  })

  it('purges a tag at the edge: the entries go, and the page says how many', async () => {
    // A product page and the top list through the edge: one tagged product:7, one tagged products.
    for (const path of ['/api/products/7', '/api/products?top=5']) expect((await fetch(`${stack.edgeUrl}${path}`)).status).toBe(200)
    await waitForText('#state-keys', (t) => Number(t.split(' / ')[1]) > 0)
    await page.fill('#purge-tag', 'product:7')
    await page.click('#purge-run')
    await page.waitForSelector('#purge-result[data-state="done"]')
    expect(await text('#purge-result')).toMatch(/^purged [1-9]\d* entries tagged product:7$/)
    // The edge no longer holds it (the key count is no signal: other entries come and go).
    expect((await fetch(`${stack.edgeUrl}/api/products/7`)).headers.get('x-cache')).toBe('MISS')
  })

  it('makes the database slow: the traced update shows the delay', async () => {
    await page.click('#db-slow')
    await page.waitForSelector('#fault-state[data-database="slow"]')
    await page.click('#update-run')
    await page.waitForSelector('#update-status[data-state="done"]')
    // Each query waits 250 ms more: the commit cannot answer sooner.
    expect(Number.parseFloat(await text('#update-result td[data-layer="database"]'))).toBeGreaterThanOrEqual(250)
    await page.click('#db-ok')
    await page.waitForSelector('#fault-state[data-database="ok"]')
  })

  it('makes the database fail: the update is refused and loader errors show, stale values are served within grace', async () => {
    // A product no one has read yet (the load above may have read every seeded one).
    const unread = PRODUCTS + 1
    await stack.db.query(`insert into products (id, name, price_cents, stock) values ($1, 'never read', 100, 1)`, [unread])
    await page.click('#db-fail')
    await page.waitForSelector('#fault-state[data-database="fail"]')
    await page.click('#update-run')
    await page.waitForSelector('#update-status[data-state="error"]')
    expect(await text('#update-status')).toContain('the write failed')
    // A product never loaded has no stale value: its load fails and is counted.
    expect((await fetch(`${stack.appUrl}/api/products/${unread}`)).status).toBe(500)
    await waitForText('#state-loader-errors', (t) => Number(t) > 0)
    await page.click('#db-ok')
    await page.waitForSelector('#fault-state[data-database="ok"]')
  })

  it('stops the origin: the edge counts origin failures, and the origin comes back', async () => {
    await page.click('#origin-down')
    await page.waitForSelector('#fault-state[data-origin="down"]')
    expect((await fetch(`${stack.edgeUrl}/api/products/${PRODUCTS - 1}`)).status).toBeGreaterThanOrEqual(500)
    await waitForText('#state-origin-errors', (t) => Number(t) > 0)
    await page.click('#origin-up')
    await page.waitForSelector('#fault-state[data-origin="up"]')
    expect((await fetch(`${stack.appUrl}/api/products/1`)).status).toBe(200)
  })

  it('saves a screenshot, with no console error', async () => {
    await page.fill('#update-id', '1')
    await page.click('#update-run')
    await page.waitForSelector('#update-status[data-state="done"]')
    await mkdir(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true })
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([])
  })
})
