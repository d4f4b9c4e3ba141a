/**
 * `npm run bench:client`: how long from a change committed in the database to an open browser page
 * showing it, without a reload. The stack `npm start` runs (embedded PostgreSQL, change capture,
 * the catalog app, the edge), the demo page open in Chromium; each round commits a new price with
 * SQL (so change capture makes the invalidation) and waits until the page's DOM shows it.
 *
 *   npm run bench:client -- [--rounds 15] [--via app|edge]
 *
 * Reported per round and as median / p90 / max:
 * - commit -> DOM: from just before the UPDATE is sent to the page rendering the new price (the
 *   page refetched the product through its service worker after it dropped the old copy);
 * - publish -> page told: from the invalidation's publish time (on the bus) to the page's
 *   `tiercache:invalidated` event (caches dropped). Both on this machine's one clock.
 * It is a latency under whatever else the machine runs: read it with the load average printed.
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { silentLogger } from '../src/core/logger.js'
import { startStack } from '../src/stack/start-stack.js'
import { openInvalidationTab } from '../test/helpers/browser-tab.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' }, via: { type: 'string', default: 'app' } } })
const rounds = Number(values.rounds)
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds takes a positive integer')
if (values.via !== 'app' && values.via !== 'edge') throw new Error('--via takes app or edge')

const PRODUCT = 42
const stack = await startStack({ port: 0, appPort: 0, products: 1000, logger: silentLogger })
const tab = await openInvalidationTab(values.via === 'edge' ? stack.edgeUrl : stack.appUrl, { product: PRODUCT })
const total: number[] = []
const told: number[] = []
try {
  const base = (await stack.db.query<{ price_cents: number }>('select price_cents from products where id = $1', [PRODUCT])).rows[0]!.price_cents
  for (let round = 1; round <= rounds; round++) {
    const price = base + round
    const seenBefore = (await tab.seen()).length
    const start = Date.now()
    await stack.db.query('update products set price_cents = $1, version = version + 1 where id = $2', [price, PRODUCT])
    await tab.page.waitForSelector(`body[data-price="${price}"]`, { timeout: 60_000 })
    const shownAt = Number(await tab.page.getAttribute('body', 'data-updated-at'))
    const seen = (await tab.seen())[seenBefore]
    total.push(shownAt - start)
    if (seen !== undefined) told.push(seen.seenAt - seen.at)
    console.log(`round ${String(round).padStart(2)}: commit -> DOM ${(shownAt - start).toFixed(1)} ms, publish -> page told ${seen === undefined ? '-' : (seen.seenAt - seen.at).toFixed(1)} ms`)
  }
} finally {
  await tab.close()
  await stack.close()
}

const quantile = (xs: number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
const row = (name: string, xs: number[]): string => `${name.padEnd(22)} median ${quantile(xs, 0.5).toFixed(1)} ms  p90 ${quantile(xs, 0.9).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms  (${xs.length} rounds)`
console.log(`\nvia ${values.via}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
console.log(row('commit -> DOM', total))
if (told.length > 0) console.log(row('publish -> page told', told))
