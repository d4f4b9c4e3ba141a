/**
 * `npm run bench:cdn`: app `invalidateTags` → purge applied on each CDN, p50/p99/max.
 *
 * A real varnishd (shipped VCL, purge by surrogate key through xkey) and a real nginx (shipped
 * config, purge by the URL the tag's template gives) in front of a small origin; an app cache on
 * Redis publishes the invalidation; `CdnPurgeRunner` (what `tiercache cdn-purger` runs) follows the
 * bus. "Applied" is the CDN's answer to the purge request: Varnish's xkey purge and nginx's purge
 * remove the object before they answer. Each round then checks, with one GET through each CDN,
 * that the next request reached the origin, and stops the run if not.
 *
 *   npm run bench:cdn -- [--rounds 200]
 *
 * Uses REDIS_URL (default: the local test server, else a private one).
 */
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { NginxPurger } from '../src/cdn/adapters/nginx.js'
import { VarnishPurger } from '../src/cdn/adapters/varnish.js'
import { parseMapping } from '../src/cdn/mapping.js'
import { CdnPurgeRunner } from '../src/cdn/runner.js'
import { createCache } from '../src/index.js'
import { startNginx } from '../test/helpers/nginx.js'
import { getThrough, startOrigin } from '../test/helpers/origin.js'
import { startVarnish } from '../test/helpers/varnish.js'
import { ensureRedis } from '../test/services/services.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' } } })
const rounds = Number(values.rounds)
const HOST = 'shop.test'

const redis = await ensureRedis()
const origin = await startOrigin((_host, path) => ({
  'cache-control': 'public, max-age=0, s-maxage=600',
  'surrogate-key': `product:${path.split('/').pop()} products`,
}))
const [varnish, nginx] = await Promise.all([startVarnish({ originPort: origin.port }), startNginx({ originPort: origin.port })])
const namespace = `bench-cdn-${process.pid}`
const cache = createCache({ namespace, logger: false, l2: { redis: redis.url, timeout: '2s' } })
await cache.ready()
let waiting: { start: number; got: Map<string, number>; done: () => void } | undefined
const runner = new CdnPurgeRunner({
  redis: redis.url,
  namespace,
  blockMs: 1_000,
  purgers: [new VarnishPurger({ url: varnish.url, host: HOST }), new NginxPurger({ purgeUrl: nginx.purgeUrl, host: HOST })],
  mapping: parseMapping({ tags: [{ match: 'product:{id}', urls: ['/api/products/{id}'] }] }),
  onEvent: (e) => {
    if (e.type !== 'purged' || waiting === undefined) return
    waiting.got.set(e.purger, performance.now() - waiting.start)
    if (waiting.got.size === 2) waiting.done()
  },
})
runner.start()
await runner.ready()

const samples: Record<string, number[]> = { varnish: [], nginx: [] }
try {
  for (let i = 0; i < rounds; i++) {
    const path = `/api/products/${i}`
    const cdns = { varnish: varnish.url, nginx: nginx.url }
    const cached: Record<string, string> = {}
    for (const [name, url] of Object.entries(cdns)) {
      await getThrough(url, HOST, path)
      cached[name] = await getThrough(url, HOST, path)
    }
    const got = new Map<string, number>()
    const done = new Promise<void>((resolve) => { waiting = { start: performance.now(), got, done: resolve } })
    await cache.invalidateTags([`product:${i}`])
    await done
    waiting = undefined
    for (const [name, url] of Object.entries(cdns)) {
      if ((await getThrough(url, HOST, path)) === cached[name]) throw new Error(`${name} still served the old copy of ${path} after the purge`)
      samples[name]!.push(got.get(name)!)
    }
  }
} finally {
  await runner.close()
  await cache.close()
  await Promise.all([varnish.stop(), nginx.stop()])
  await origin.close()
  await redis.stop()
}

const pct = (list: number[], p: number): number => {
  const sorted = [...list].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
console.log(`bench:cdn: ${rounds} rounds, invalidateTags -> purge applied (ms); ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
console.log('| CDN | purge by | p50 | p99 | max |')
console.log('| --- | --- | ---: | ---: | ---: |')
for (const [name, by] of [['varnish', 'surrogate key (xkey)'], ['nginx', 'URL (tag template)']] as const) {
  const list = samples[name]!
  console.log(`| ${name} | ${by} | ${pct(list, 50).toFixed(1)} | ${pct(list, 99).toFixed(1)} | ${Math.max(...list).toFixed(1)} |`)
}
