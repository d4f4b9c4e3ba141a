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
import { shippedVcl, startVarnish } from '../helpers/varnish.js'

// A real varnishd with the shipped VCL and a real nginx with the shipped configuration, in front
// of one test origin; each test uses a host name of its own.
let shared: SharedOrigin
let varnish: RunningVarnish
let nginx: RunningNginx
let deadPort: number
// The same shipped files with this host left out of the purge ACL / allow list: purges are refused.
let lockedVarnish: RunningVarnish
let lockedNginx: RunningNginx

beforeAll(async () => {
  shared = await startTaggingOrigin()
  const port = shared.origin.port
  ;[varnish, nginx, deadPort, lockedVarnish, lockedNginx] = await Promise.all([
    startVarnish({ originPort: port }), startNginx({ originPort: port }), freePort(),
    startVarnish({ originPort: port, vcl: shippedVcl(port).replace(/acl purgers \{[^}]*\}/, 'acl purgers {\n  "192.0.2.1";\n}') }),
    startNginx({ originPort: port, edit: (conf) => conf.replace(/allow 127\.0\.0\.1;\s*allow ::1;/, 'allow 192.0.2.1;') }),
  ])
})
afterAll(async () => {
  await Promise.all([varnish?.stop(), nginx?.stop(), lockedVarnish?.stop(), lockedNginx?.stop()])
  await shared?.origin.close()
})

describeCdnPurgerContract('Varnish (xkey, shipped VCL)', async () => ({
  ...cachingHarness(varnish, shared,
    (host) => new VarnishPurger({ url: varnish.url, host }),
    () => new VarnishPurger({ url: `http://127.0.0.1:${deadPort}`, host: 'x.test', timeoutMs: 2_000 })),
  // Outside the VCL's purgers ACL: 403, which retrying cannot fix.
  refusedCredentials: () => new VarnishPurger({ url: lockedVarnish.url, host: 'x.test' }),
}))

describeCdnPurgerContract('nginx (ngx_cache_purge, shipped config)', async () => ({
  ...cachingHarness(nginx, shared,
    (host) => new NginxPurger({ purgeUrl: nginx.purgeUrl, host }),
    () => new NginxPurger({ purgeUrl: `http://127.0.0.1:${deadPort}`, host: 'x.test', timeoutMs: 2_000 })),
  refusedCredentials: () => new NginxPurger({ purgeUrl: lockedNginx.purgeUrl, host: 'x.test' }),
}))
