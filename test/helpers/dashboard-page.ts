import type { Page } from 'playwright-core'
import { launchChromium } from './chromium.js'

/** A Chromium tab on the live dashboard, collecting every console error and page error it shows. */
export interface DashboardTab {
  readonly page: Page
  readonly consoleErrors: string[]
  close(): Promise<void>
}

/** Opens the dashboard at `url` in Chromium and waits for its first live sample. */
export async function openDashboardTab(url: string): Promise<DashboardTab> {
  const browser = await launchChromium()
  const page = await browser.context.newPage()
  const consoleErrors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()) })
  page.on('pageerror', (error) => { consoleErrors.push(error.message) })
  await page.goto(url)
  await page.waitForSelector('body:not([data-samples="0"])')
  return { page, consoleErrors, close: () => browser.close() }
}

/**
 * Waits until `selector`'s text satisfies `test`. The page replaces the text with each live sample:
 * between two reads this waits for the page's sample counter to move, not for a time.
 */
export async function waitForText(page: Page, selector: string, test: (text: string) => boolean): Promise<string> {
  const locator = page.locator(selector)
  for (;;) {
    const t = await locator.innerText()
    if (test(t)) return t
    const seen = await page.locator('body').getAttribute('data-samples')
    await page.waitForSelector(`body:not([data-samples="${seen}"])`)
  }
}
