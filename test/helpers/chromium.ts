import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { BrowserContext } from 'playwright-core'

/** Debian's Chromium; the browser tests drive it with playwright-core (no browser download). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** The machine has no network: everything that would reach out is off. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']

/** Fails (never skips) with what to install when Chromium is missing. `.ci/run` installs it. */
export function requireChromium(): string {
  try {
    accessSync(CHROMIUM, constants.X_OK)
  } catch {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: install the Debian package chromium (apt-get install -y chromium), or set CHROMIUM_PATH`)
  }
  return CHROMIUM
}

/** Chromium with a fresh profile in a temporary directory, removed by `close()`. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const executablePath = requireChromium()
  const profile = await mkdtemp(join(tmpdir(), 'tiercache-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 } })
  return {
    context,
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}
