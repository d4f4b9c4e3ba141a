/**
 * End to end: an application invalidates a tag on its cache; tiercache cdn-purger, following the
 * bus, purges a real Varnish (by surrogate key, shipped VCL) and a real nginx (by the URL the tag's
 * template gives, shipped config); the next request through each reaches the origin. Other
 * products stay cached. The delay from invalidate to purge-applied is printed (measured, never
 * asserted: the machine is shared).
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { NginxPurger } from '../../src/cdn/adapters/nginx.js'
import { VarnishPurger } from '../../src/cdn/adapters/varnish.js'
import { parseMapping } from '../../src/cdn/mapping.js'
import { CdnPurgeRunner } from '../../src/cdn/runner.js'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { freshNamespace } from '../helpers/namespace.js'
import type { RunningNginx } from '../helpers/nginx.js'
import { startNginx } from '../helpers/nginx.js'
import type { TestOrigin } from '../helpers/origin.js'
import { getThrough, startOrigin } from '../helpers/origin.js'
import { until } from '../helpers/until.js'
import type { RunningVarnish } from '../helpers/varnish.js'
import { startVarnish } from '../helpers/varnish.js'

const HOST = 'shop.test'
let origin: TestOrigin
let varnish: RunningVarnish
let nginx: RunningNginx
let cache: TierCache
let runner: CdnPurgeRunner
const purgedAt = new Map<string, number>()

beforeAll(async () => {
  // The catalog's product pages: tagged with their product, cached by CDNs for 10 minutes.
  origin = await startOrigin((_host, path) => ({
    'cache-control': 'public, max-age=0, s-maxage=600, stale-while-revalidate=30',
    'surrogate-key': `product:${path.split('/').pop()} products`,
  }))
  ;[varnish, nginx] = await Promise.all([startVarnish({ originPort: origin.port }), startNginx({ originPort: origin.port })])
  const namespace = freshNamespace('cdn-e2e')
  cache = createCache({ namespace, logger: false, l2: { redis: inject('redisUrl'), timeout: '2s' } })
  await cache.ready()
  runner = new CdnPurgeRunner({
    redis: inject('redisUrl'),
    namespace,
    blockMs: 200,
    purgers: [new VarnishPurger({ url: varnish.url, host: HOST }), new NginxPurger({ purgeUrl: nginx.purgeUrl, host: HOST })],
    mapping: parseMapping({ tags: [{ match: 'product:{id}', urls: ['/api/products/{id}'] }] }),
    onEvent: (e) => { if (e.type === 'purged') purgedAt.set(e.purger, performance.now()) },
  })
  runner.start()
  await runner.ready()
})

afterAll(async () => {
  await runner?.close()
  await cache?.close()
  await Promise.all([varnish?.stop(), nginx?.stop()])
  await origin?.close()
})

it('invalidateTags([product:42]) on the app cache purges Varnish and nginx; the next request reaches the origin', async () => {
  const cdns = { varnish: varnish.url, nginx: nginx.url }
  const before: Record<string, string> = {}
  for (const [name, url] of Object.entries(cdns)) {
    for (const path of ['/api/products/42', '/api/products/7']) {
      await getThrough(url, HOST, path)
      before[`${name}${path}`] = await getThrough(url, HOST, path)
    }
  }
  const hits42 = origin.hits(HOST, '/api/products/42')
  // Both CDNs serve product 42 from cache: the origin saw one request per CDN, not two.
  expect(hits42).toBe(2)

  const start = performance.now()
  await cache.invalidateTags(['product:42'])
  await until(() => purgedAt.has('varnish') && purgedAt.has('nginx'), 'both CDNs purged', 30_000)
  for (const [name, url] of Object.entries(cdns)) {
    const fresh = await getThrough(url, HOST, '/api/products/42')
    expect(fresh).not.toBe(before[`${name}/api/products/42`])
    // Another product stays cached.
    expect(await getThrough(url, HOST, '/api/products/7')).toBe(before[`${name}/api/products/7`])
  }
  expect(origin.hits(HOST, '/api/products/42')).toBe(hits42 + 2)
  expect(runner.stats().deadLettered).toBe(0)
  console.log(`invalidate -> purge applied: varnish ${(purgedAt.get('varnish')! - start).toFixed(1)} ms, nginx ${(purgedAt.get('nginx')! - start).toFixed(1)} ms`)
})
