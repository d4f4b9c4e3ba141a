import { describe, expect, it } from 'vitest'
import { cloudFrontDistributionConfig } from '../../src/cdn/cloudfront-distribution.js'
import { parseCdnPurgerConfig } from '../../src/cdn/config.js'
import { escapeRegex } from '../../src/cdn/adapters/varnish.js'
import { parseMapping, planPurges, splitWork } from '../../src/cdn/mapping.js'
import type { PurgeCapabilities } from '../../src/cdn/purger.js'
import { isTierCacheError } from '../../src/core/errors.js'

const ALL: PurgeCapabilities = { kinds: ['tags', 'urls', 'prefixes', 'all'], soft: ['tags', 'urls'] }
const URL_ONLY: PurgeCapabilities = { kinds: ['urls'], soft: [] }
const mapping = parseMapping({
  tags: [{ match: 'product:{id}', urls: ['/api/products/{id}'] }, { match: 'products', prefixes: ['/api/products'] }],
  keys: [{ match: 'product:{id}', urls: ['/api/products/{id}'], surrogateKeys: ['product:{id}'] }],
  keyPrefixes: [{ match: 'product:', prefixes: ['/api/products/'] }],
})
const msg = { origin: 'n', at: 0 }

describe('CDN mapping', () => {
  it('purges a tag as the surrogate key of the same name on a CDN with tags', () => {
    const plan = planPurges([{ ...msg, tags: ['product:42', 'other'] }], mapping, ALL)
    expect(plan.work).toEqual([{ kind: 'tags', soft: false, items: ['product:42', 'other'] }])
    expect(plan.undeliverable).toEqual([])
  })

  it('maps tags to URLs and prefixes on a CDN without tags; a tag with no rule is undeliverable, not dropped', () => {
    const plan = planPurges([{ ...msg, tags: ['product:42', 'products', 'orphan'] }], mapping, { kinds: ['urls', 'prefixes'], soft: [] })
    expect(plan.work).toEqual([{ kind: 'urls', soft: false, items: ['/api/products/42'] }, { kind: 'prefixes', soft: false, items: ['/api/products'] }])
    expect(plan.undeliverable).toHaveLength(1)
    expect(plan.undeliverable[0]!.work.items).toEqual(['orphan'])
  })

  it('maps keys and key prefixes through their rules, percent-encodes values into URLs, ignores keys no rule maps', () => {
    const plan = planPurges([{ ...msg, keys: ['product:a/b', 'session:1'], keyPrefixes: ['product:'] }], mapping, ALL)
    expect(plan.work).toEqual([
      { kind: 'tags', soft: false, items: ['product:a/b'] },
      { kind: 'urls', soft: false, items: ['/api/products/a%2Fb'] },
      { kind: 'prefixes', soft: false, items: ['/api/products/'] },
    ])
    expect(plan.ignored).toBe(1)
  })

  it('keeps soft where the CDN soft-purges that kind, and purges hard where it cannot', () => {
    const plan = planPurges([{ ...msg, tags: ['t'], prefixes: ['/p/'], soft: true }], mapping, ALL)
    expect(plan.work).toEqual([{ kind: 'tags', soft: true, items: ['t'] }, { kind: 'prefixes', soft: false, items: ['/p/'] }])
  })

  it('turns clear into a full purge, and into an undeliverable one where the CDN cannot purge everything', () => {
    expect(planPurges([{ ...msg, clear: true }], mapping, ALL).work).toEqual([{ kind: 'all', soft: false, items: [] }])
    expect(planPurges([{ ...msg, clear: true }], mapping, URL_ONLY).undeliverable[0]!.work.kind).toBe('all')
  })

  it('deduplicates across a batch of messages and splits by the batch limit', () => {
    const plan = planPurges([{ ...msg, tags: ['a', 'b'] }, { ...msg, tags: ['b', 'c'] }], mapping, ALL)
    expect(plan.work[0]!.items).toEqual(['a', 'b', 'c'])
    expect(splitWork(plan.work[0]!, { tags: 2, urls: 1, prefixes: 1 }).map((w) => w.items)).toEqual([['a', 'b'], ['c']])
  })

  it('refuses malformed rules with the field named', () => {
    const fail = (input: unknown): string => {
      try {
        parseMapping(input)
      } catch (error) {
        expect(isTierCacheError(error, 'E_CDN_CONFIG')).toBe(true)
        return (error as Error).message
      }
      throw new Error('accepted')
    }
    expect(fail({ tags: [{ match: 'product:{id}' }] })).toMatch(/^mapping\.tags\[0\]: a rule needs/)
    expect(fail({ tags: [{ match: 'product:{id}', urls: ['/p/{sku}'] }] })).toMatch(/^mapping\.tags\[0\]\.urls\[0\]: \{sku\} is not captured/)
    expect(fail({ keys: [{ match: 'p:{id}', urls: ['p/{id}'] }] })).toMatch(/^mapping\.keys\[0\]\.urls\[0\]: a URL template is a path/)
    expect(fail({ tags: [{ match: 'a{', urls: ['/x'] }] })).toMatch(/unbalanced brace/)
    expect(fail({ tag: [] })).toMatch(/^mapping\.tag: unknown key/)
  })
})

describe('cdn-purger configuration', () => {
  const base = { namespace: 'catalog', providers: [{ type: 'varnish', url: 'http://127.0.0.1:6081' }] }
  const fail = (input: unknown, env: Record<string, string> = {}): string => {
    try {
      parseCdnPurgerConfig(input, env)
    } catch (error) {
      expect(isTierCacheError(error, 'E_CDN_CONFIG')).toBe(true)
      return (error as Error).message
    }
    throw new Error('accepted')
  }

  it('accepts a minimal configuration with defaults', () => {
    const config = parseCdnPurgerConfig(base, { REDIS_URL: 'redis://10.0.0.1:6379' })
    expect(config).toMatchObject({ redis: 'redis://10.0.0.1:6379', namespace: 'catalog', name: 'cdn-purger', retry: { attempts: 6 } })
    expect(config.providers[0]).toMatchObject({ type: 'varnish', name: 'varnish' })
  })

  it('names the field of every mistake', () => {
    expect(fail({ providers: base.providers })).toMatch(/^namespace: expected a non-empty string/)
    expect(fail({ ...base, providers: [] })).toMatch(/^providers: expected a non-empty array/)
    expect(fail({ ...base, providers: [{ type: 'akamai' }] })).toMatch(/^providers\[0\]\.type: expected one of varnish, nginx, cloudfront, cloudflare, fastly/)
    expect(fail({ ...base, providers: [{ type: 'varnish', url: 'ftp://x' }] })).toMatch(/^providers\[0\]\.url: expected a http: or https: URL/)
    expect(fail({ ...base, providers: [{ type: 'nginx', purgeUrl: 'http://x' }] })).toMatch(/^providers\[0\]\.host: expected a non-empty string/)
    expect(fail({ ...base, providers: [{ type: 'cloudflare', zoneId: 'z', site: 'https://a.test' }] })).toMatch(/^providers\[0\]\.apiTokenEnv: set the environment variable CLOUDFLARE_API_TOKEN/)
    expect(fail({ ...base, providers: [{ type: 'fastly', serviceId: 's', host: 'a.test', apiTokenEnv: 'MY_TOKEN' }] })).toMatch(/MY_TOKEN/)
    expect(fail({ ...base, providers: [{ type: 'varnish', url: 'http://a', requestsPerSecond: -1 }] })).toMatch(/^providers\[0\]\.requestsPerSecond: expected a number/)
    expect(fail({ ...base, providers: [{ type: 'varnish', url: 'http://a', zoneId: 'z' }] })).toMatch(/^providers\[0\]\.zoneId: unknown key/)
    expect(fail({ ...base, providers: [base.providers[0], base.providers[0]] })).toMatch(/^providers\[1\]\.name: "varnish" is used twice/)
    expect(fail({ ...base, retry: { attempts: 0 } })).toMatch(/^retry\.attempts: expected an integer from 1/)
    expect(fail({ ...base, extra: 1 })).toMatch(/^config\.extra: unknown key/)
  })

  it('reads API tokens from the environment, never from the file', () => {
    const config = parseCdnPurgerConfig({ ...base, providers: [{ type: 'fastly', serviceId: 's', host: 'a.test' }] }, { FASTLY_API_TOKEN: 'secret' })
    expect(config.providers[0]).toMatchObject({ type: 'fastly', apiToken: 'secret' })
    expect(fail({ ...base, providers: [{ type: 'fastly', serviceId: 's', host: 'a.test', apiToken: 'inline' }] }, { FASTLY_API_TOKEN: 'x' })).toMatch(/apiToken: unknown key/)
  })
})

describe('Varnish ban regex', () => {
  it('escapes a prefix into a PCRE literal that cannot end the ban string', () => {
    expect(escapeRegex('/api/products/')).toBe('/api/products/')
    expect(escapeRegex('/a.b?c="x"')).toBe('/a\\x2eb\\x3fc\\x3d\\x22x\\x22')
  })
})

describe('CloudFront distribution config', () => {
  it('has a default and an API behaviour that follow the origin\'s Cache-Control, with consistent quantities', () => {
    interface Behavior { PathPattern?: string; MinTTL: number; ForwardedValues: { QueryString: boolean; Headers: { Items: string[] } } }
    const config = cloudFrontDistributionConfig({ originDomain: 'origin.example.test' }) as unknown as {
      Origins: { Items: { DomainName: string }[] }; CacheBehaviors: { Items: Behavior[] }; DefaultCacheBehavior: Behavior
    }
    const quantities = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return
      const record = node as Record<string, unknown>
      if ('Quantity' in record && 'Items' in record) expect((record.Items as unknown[]).length).toBe(record.Quantity)
      for (const value of Object.values(record)) quantities(value)
    }
    quantities(config)
    expect(config.Origins.Items[0]!.DomainName).toBe('origin.example.test')
    const api = config.CacheBehaviors.Items[0]!
    expect(api).toMatchObject({ PathPattern: '/api/*', MinTTL: 0, DefaultTTL: 0, Compress: true })
    expect(api.ForwardedValues.QueryString).toBe(true)
    expect(api.ForwardedValues.Headers.Items).not.toContain('Authorization')
    expect(config.DefaultCacheBehavior.MinTTL).toBe(0)
  })
})
