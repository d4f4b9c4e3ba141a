import { describe, expect, it } from 'vitest'
import { cacheHeaders } from '../../src/index.js'

describe('cacheHeaders', () => {
  it('api: ttl is s-maxage, grace is stale-while-revalidate and stale-if-error, tags are surrogate keys, version the ETag', () => {
    expect(cacheHeaders({ preset: 'api', ttl: '60s', grace: '1h', tags: ['product:1', 'products', 'product:1'], version: 3 })).toEqual({
      'cache-control': 'public, max-age=0, s-maxage=60, stale-while-revalidate=3600, stale-if-error=3600',
      'surrogate-key': 'product:1 products',
      etag: '"v3"',
    })
    expect(cacheHeaders({ preset: 'api', ttl: 10_000 })).toEqual({ 'cache-control': 'public, max-age=0, s-maxage=10' })
  })

  it('immutable, private and no-store', () => {
    expect(cacheHeaders({ preset: 'immutable', version: 'abc' })).toEqual({ 'cache-control': 'public, max-age=31536000, immutable', etag: '"vabc"' })
    // Per-user data: no surrogate keys (a shared cache never holds it).
    expect(cacheHeaders({ preset: 'private', ttl: '30s', tags: ['user:1'] })).toEqual({ 'cache-control': 'private, max-age=30' })
    expect(cacheHeaders({ preset: 'no-store', tags: ['x'], version: 1 })).toEqual({ 'cache-control': 'no-store' })
  })

  it.each([
    [{ preset: 'public' }, 'preset'],
    [{ preset: 'api' }, 'ttl'],
    [{ preset: 'api', ttl: '1 minute' }, 'ttl'],
    [{ preset: 'api', ttl: '1m', ttlSeconds: 5 }, 'ttlSeconds'],
    [{ preset: 'api', ttl: '1m', tags: ['two words'] }, 'tags'],
    [{ preset: 'api', ttl: '1m', tags: ['line\r\nset-cookie: x'] }, 'tags'],
    [{ preset: 'api', ttl: '1m', version: 'a"b' }, 'version'],
  ])('refuses %j naming %s', (options, option) => {
    expect(() => cacheHeaders(options as never)).toThrow(expect.objectContaining({ code: 'E_INVALID_OPTION', context: expect.objectContaining({ option }) }))
  })
})
