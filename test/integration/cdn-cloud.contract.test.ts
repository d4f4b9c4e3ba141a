import { describe, expect, it } from 'vitest'
import { CloudflarePurger } from '../../src/cdn/adapters/cloudflare.js'
import { CloudFrontPurger } from '../../src/cdn/adapters/cloudfront.js'
import { FastlyPurger } from '../../src/cdn/adapters/fastly.js'
import { CdnPurgeError } from '../../src/cdn/errors.js'
import type { CdnPurger } from '../../src/cdn/purger.js'
import type { CdnHarness } from '../contract/cdn-purger-contract.js'
import { describeCdnPurgerContract } from '../contract/cdn-purger-contract.js'
import type { FakeApi } from '../helpers/cdn-apis.js'
import { fakeCloudFront, fakeCloudflare, fakeFastly } from '../helpers/cdn-apis.js'
import { freePort } from '../helpers/daemon.js'

// The cloud CDNs cannot be reached from here: each adapter talks, through the provider's official
// client where it has a usable one, to a local server that checks every request against the
// provider's documented API and applies it to a model of cached objects.

function fakeHarness(api: FakeApi, purger: CdnPurger, unreachable: (url: string) => CdnPurger, refused: () => CdnPurger, deadPort: number): CdnHarness {
  return {
    purger,
    cache: async (path, tags) => { api.cache(path, tags) },
    purged: async (path) => api.state(path) !== 'fresh',
    requestCount: () => api.requests.length,
    unreachable: () => unreachable(`http://127.0.0.1:${deadPort}`),
    refusedCredentials: refused,
    violations: () => api.violations,
    cleanup: async () => {
      await purger.close()
      await api.close()
    },
  }
}

describeCdnPurgerContract('Fastly (purge API over fetch)', async () => {
  const options = { serviceId: 'SU1Z0isxPaozGVKXdv0eY', host: 'www.example.test' }
  const api = await fakeFastly({ ...options, token: 'fastly-token' })
  const make = (apiUrl: string, apiToken = 'fastly-token'): CdnPurger => new FastlyPurger({ ...options, apiToken, apiUrl, timeoutMs: 2_000 })
  return fakeHarness(api, make(api.url), make, () => make(api.url, 'wrong'), await freePort())
})

describeCdnPurgerContract('Cloudflare (official cloudflare client)', async () => {
  const options = { zoneId: '023e105f4ecef8ad9ca31a8372d0c353', site: 'https://www.example.test' }
  const api = await fakeCloudflare({ zoneId: options.zoneId, token: 'cf-token', host: 'www.example.test' })
  const make = (base: string, apiToken = 'cf-token'): CdnPurger => new CloudflarePurger({ ...options, apiToken, apiUrl: `${base}/client/v4`, timeoutMs: 2_000, requestsPerSecond: 1_000 })
  return fakeHarness(api, make(api.url), make, () => make(api.url, 'wrong'), await freePort())
})

describeCdnPurgerContract('CloudFront (@aws-sdk/client-cloudfront)', async () => {
  const api = await fakeCloudFront({ distributionId: 'E2QWRUHEXAMPLE', accessKeyId: 'AKIDEXAMPLE' })
  const make = (endpoint: string, accessKeyId = 'AKIDEXAMPLE'): CdnPurger => new CloudFrontPurger({
    distributionId: 'E2QWRUHEXAMPLE', endpoint, credentials: { accessKeyId, secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  })
  return fakeHarness(api, make(api.url), make, () => make(api.url, 'AKIDWRONG'), await freePort())
})

describe('CloudFront in-progress budget', () => {
  it('holds back a wildcard invalidation past the 15 in progress (retryably) until CloudFront reports them completed', async () => {
    const api = await fakeCloudFront({ distributionId: 'E2QWRUHEXAMPLE', accessKeyId: 'AKIDEXAMPLE' })
    const purger = new CloudFrontPurger({ distributionId: 'E2QWRUHEXAMPLE', endpoint: api.url, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } })
    try {
      await purger.purge({ kind: 'prefixes', items: Array.from({ length: 15 }, (_, i) => `/p${i}/`), soft: false })
      expect(purger.inProgress).toEqual({ paths: 0, wildcards: 15 })
      const before = api.requests.filter((r) => r.method === 'POST').length
      const error = await purger.purge({ kind: 'prefixes', items: ['/more/'], soft: false }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CdnPurgeError)
      expect((error as CdnPurgeError).retryable).toBe(true)
      expect((error as Error).message).toMatch(/15 wildcard paths already in progress/)
      // It asked CloudFront (GetInvalidation) instead of sending a request CloudFront would refuse.
      expect(api.requests.filter((r) => r.method === 'POST').length).toBe(before)
      expect(api.requests.some((r) => r.method === 'GET')).toBe(true)
      api.completeAll()
      await purger.purge({ kind: 'prefixes', items: ['/more/'], soft: false })
      expect(purger.inProgress).toEqual({ paths: 0, wildcards: 1 })
      expect(api.violations).toEqual([])
    } finally {
      await purger.close()
      await api.close()
    }
  })

  it('reports CloudFront\'s TooManyInvalidationsInProgress (another writer spent the budget) as retryable', async () => {
    const api = await fakeCloudFront({ distributionId: 'E2QWRUHEXAMPLE', accessKeyId: 'AKIDEXAMPLE' })
    const other = new CloudFrontPurger({ distributionId: 'E2QWRUHEXAMPLE', endpoint: api.url, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } })
    const purger = new CloudFrontPurger({ distributionId: 'E2QWRUHEXAMPLE', endpoint: api.url, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } })
    try {
      await other.purge({ kind: 'all', items: [], soft: false })
      await other.purge({ kind: 'prefixes', items: Array.from({ length: 14 }, (_, i) => `/p${i}/`), soft: false })
      const error = await purger.purge({ kind: 'all', items: [], soft: false }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CdnPurgeError)
      expect((error as CdnPurgeError).retryable).toBe(true)
      expect((error as Error).message).toMatch(/TooManyInvalidationsInProgress/)
    } finally {
      await Promise.all([purger.close(), other.close()])
      await api.close()
    }
  })
})
