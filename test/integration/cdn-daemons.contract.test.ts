import { afterAll, beforeAll } from 'vitest'
import { NginxPurger } from '../../src/cdn/adapters/nginx.js'
import { VarnishPurger } from '../../src/cdn/adapters/varnish.js'
import { describeCdnPurgerContract } from '../contract/cdn-purger-contract.js'
import type { SharedOrigin } from '../helpers/cdn-harness.js'
import { cachingHarness, startTaggingOrigin } from '../helpers/cdn-harness.js'
import { freePort } from '../helpers/daemon.js'
import type { RunningNginx } from '../helpers/nginx.js'
import { startNginx } from '../helpers/nginx.js'
import type { RunningVarnish } from '../helpers/varnish.js'
import { startVarnish } from '../helpers/varnish.js'

// A real varnishd with the shipped VCL and a real nginx with the shipped configuration, in front
// of one test origin; each test uses a host name of its own.
let shared: SharedOrigin
let varnish: RunningVarnish
let nginx: RunningNginx
let deadPort: number

beforeAll(async () => {
  shared = await startTaggingOrigin()
  ;[varnish, nginx, deadPort] = await Promise.all([startVarnish({ originPort: shared.origin.port }), startNginx({ originPort: shared.origin.port }), freePort()])
})
afterAll(async () => {
  await Promise.all([varnish?.stop(), nginx?.stop()])
  await shared?.origin.close()
})

describeCdnPurgerContract('Varnish (xkey, shipped VCL)', async () => cachingHarness(varnish, shared,
  (host) => new VarnishPurger({ url: varnish.url, host }),
  () => new VarnishPurger({ url: `http://127.0.0.1:${deadPort}`, host: 'x.test', timeoutMs: 2_000 })))

describeCdnPurgerContract('nginx (ngx_cache_purge, shipped config)', async () => cachingHarness(nginx, shared,
  (host) => new NginxPurger({ purgeUrl: nginx.purgeUrl, host }),
  () => new NginxPurger({ purgeUrl: `http://127.0.0.1:${deadPort}`, host: 'x.test', timeoutMs: 2_000 })))
