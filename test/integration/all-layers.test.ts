/**
 * One change in PostgreSQL, followed through every layer tiercache draws: another app node's L1,
 * Redis (L2), the tiercache edge, a real Varnish (xkey, the shipped VCL) and a real nginx (the
 * shipped config) purged by `tiercache cdn-purger`'s runner, and an open browser tab (the demo page
 * in Chromium, its service worker and event stream). The stack is `npm start`'s, in one process,
 * on Redis; nobody calls invalidate: change capture turns the commit into the invalidation.
 *
 * Each layer's delay from the commit is printed (measured, never asserted: the machine is shared);
 * the assertions are that every layer lets go of the old copy and serves the new one.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { NginxPurger } from '../../src/cdn/adapters/nginx.js'
import { VarnishPurger } from '../../src/cdn/adapters/varnish.js'
import { parseMapping } from '../../src/cdn/mapping.js'
import { CdnPurgeRunner } from '../../src/cdn/runner.js'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { Stack } from '../../src/stack/start-stack.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { InvalidationTab } from '../helpers/browser-tab.js'
import { openInvalidationTab } from '../helpers/browser-tab.js'
import { freshNamespace } from '../helpers/namespace.js'
import type { RunningNginx } from '../helpers/nginx.js'
import { startNginx } from '../helpers/nginx.js'
import { getThrough } from '../helpers/origin.js'
import { freshSchema } from '../helpers/pg-schema.js'
import { until } from '../helpers/until.js'
import type { RunningVarnish } from '../helpers/varnish.js'
import { startVarnish } from '../helpers/varnish.js'

const HOST = 'shop.test'
const PATH = '/api/products/42'
const quiet = { warn: () => {}, error: () => {} }

let schema: Awaited<ReturnType<typeof freshSchema>>
let stack: Stack
let varnish: RunningVarnish
let nginx: RunningNginx
let node2: TierCache
let l2: TierCache
let runner: CdnPurgeRunner
let tab: InvalidationTab
const purgedAt = new Map<string, number>()
let namespace: string

beforeAll(async () => {
  namespace = freshNamespace('layers')
  schema = await freshSchema(inject('databaseUrl'))
  stack = await startStack({ port: 0, appPort: 0, products: 50, namespace, databaseUrl: schema.url, redisUrl: inject('redisUrl'), logger: quiet })
  const appPort = Number(new URL(stack.appUrl).port)
  ;[varnish, nginx] = await Promise.all([startVarnish({ originPort: appPort }), startNginx({ originPort: appPort })])
  // Another app node on the same namespace: its L1 must let go too.
  node2 = createCache({ namespace, logger: false, l2: { redis: inject('redisUrl'), timeout: '2s' } })
  l2 = createCache({ namespace, l1: false, logger: false, l2: { redis: inject('redisUrl'), timeout: '2s' } })
  runner = new CdnPurgeRunner({
    redis: inject('redisUrl'),
    namespace,
    blockMs: 200,
    purgers: [new VarnishPurger({ url: varnish.url, host: HOST }), new NginxPurger({ purgeUrl: nginx.purgeUrl, host: HOST })],
    // Varnish purges the surrogate keys themselves; nginx purges by URL, so each tag capture
    // publishes names its pages (a tag with no URL would be dead-lettered for nginx).
    mapping: parseMapping({ tags: [{ match: 'product:{id}', urls: ['/api/products/{id}'] }, { match: 'products', urls: ['/api/products'] }] }),
    onEvent: (e) => { if (e.type === 'purged' && !purgedAt.has(e.purger)) purgedAt.set(e.purger, Date.now()) },
  })
  runner.start()
  await Promise.all([runner.ready(), node2.ready(), l2.ready()])
}, 180_000)

afterAll(async () => {
  await tab?.close()
  await runner?.close()
  await node2?.close()
  await l2?.close()
  await Promise.all([varnish?.stop(), nginx?.stop()])
  await stack?.close()
  await schema?.drop()
})

/** Reads of the product the app served (each one a cache read in the app): a CDN hit adds none. */
function appReads(): number {
  const { l1 } = stack.cache.stats()
  return (l1?.hits ?? 0) + (l1?.misses ?? 0)
}

function version(body: string): number {
  return (JSON.parse(body) as { version: number }).version
}

it('a commit in PostgreSQL reaches L1 of another node, L2, the edge, Varnish, nginx and an open browser tab', async () => {
  // Every layer holds version 1 of product 42.
  expect(version(await (await fetch(`${stack.edgeUrl}${PATH}`)).text())).toBe(1)
  expect((await fetch(`${stack.edgeUrl}${PATH}`)).headers.get('x-cache')).toMatch(/HIT/)
  for (const cdn of [varnish.url, nginx.url]) {
    await getThrough(cdn, HOST, PATH)
    const before = appReads()
    expect(version(await getThrough(cdn, HOST, PATH))).toBe(1)
    expect(appReads(), `${cdn} serves product 42 from its cache`).toBe(before)
  }
  await node2.getOrSet('product:42', () => ({ id: 42, version: 1 }), { tags: ['product:42'] })
  expect(node2.peek('product:42')).toBeDefined()
  expect(await l2.get('product:42')).toBeDefined()
  tab = await openInvalidationTab(stack.edgeUrl, { product: 42, tags: ['product:42'] })
  expect(await tab.page.getAttribute('body', 'data-version')).toBe('1')

  const seen = new Map<string, number>()
  const purgesBefore = stack.edge.stats().purges
  // Polled, so each layer's moment is taken when it happens, not when the test gets to it.
  const poll = setInterval(() => {
    if (!seen.has('L1 (another node)') && node2.peek('product:42') === undefined) seen.set('L1 (another node)', Date.now())
    if (!seen.has('edge') && stack.edge.stats().purges > purgesBefore) seen.set('edge', Date.now())
  }, 1)
  try {
    const committed = Date.now()
    await stack.db.query('update products set price_cents = 4242, version = version + 1 where id = 42')
    const applied = Date.now()

    await until(async () => {
      if (!seen.has('L2 (Redis)') && await l2.get('product:42') === undefined) seen.set('L2 (Redis)', Date.now())
      return seen.has('L2 (Redis)')
    }, 'Redis letting go of product 42', 60_000)
    await until(() => seen.has('L1 (another node)') && seen.has('edge'), 'L1 and the edge letting go of product 42', 60_000)
    await until(() => purgedAt.has('varnish') && purgedAt.has('nginx'), 'Varnish and nginx purged', 60_000)
    const inTab = await tab.waitForInvalidation('product:42')
    await tab.page.waitForSelector('body[data-price="4242"]', { timeout: 60_000 })

    // Every layer now serves version 2.
    expect(version(await (await fetch(`${stack.edgeUrl}${PATH}`)).text())).toBe(2)
    for (const cdn of [varnish.url, nginx.url]) expect(version(await getThrough(cdn, HOST, PATH))).toBe(2)
    expect(await tab.page.getAttribute('body', 'data-version')).toBe('2')
    expect(runner.stats().deadLettered).toBe(0)

    const rows: [string, number][] = [...seen.entries()]
    rows.push(['Varnish (purged)', purgedAt.get('varnish')!], ['nginx (purged)', purgedAt.get('nginx')!], ['browser tab (told)', Math.round(inTab.seenAt)])
    console.log(`commit -> layer let go (ms after the UPDATE returned; the UPDATE took ${applied - committed} ms):\n` +
      rows.map(([layer, at]) => `  ${layer.padEnd(20)} ${at - applied}`).join('\n'))
  } finally {
    clearInterval(poll)
  }
}, 240_000)
