import { describe, expect, it } from 'vitest'
import { isTierCacheError } from '../../src/core/errors.js'
import { BehaviorTable, patternToRegex } from '../../src/edge/behavior.js'
import { DEFAULT_BEHAVIORS } from '../../src/edge/behavior-options.js'
import { resolveEdgeOptions } from '../../src/edge/options.js'

describe('edge options', () => {
  it('reproduces a CloudFront-like distribution by default', () => {
    const o = resolveEdgeOptions({ origin: 'http://127.0.0.1:3000' })
    expect(o.behaviors.map((b) => b.pathPattern)).toEqual(['/api/*', '*'])
    const [api, def] = o.behaviors
    expect(def).toMatchObject({ minTtl: 0, defaultTtl: 86_400_000, maxTtl: 31_536_000_000, queryStrings: 'none', cookies: 'none', headers: [], compress: true, allowedMethods: 'all' })
    expect([...def!.cachedMethods]).toEqual(['GET', 'HEAD'])
    expect(api).toMatchObject({ minTtl: 0, defaultTtl: 0, maxTtl: 300_000, queryStrings: 'all', cookies: 'none', headers: ['accept', 'accept-language', 'authorization'] })
    expect([...(api!.allowedMethods as Set<string>)]).toEqual(['GET', 'HEAD'])
    expect(DEFAULT_BEHAVIORS).toHaveLength(2)
  })

  it('appends the default behavior when the list has no "*"', () => {
    const o = resolveEdgeOptions({ origin: 'http://x', behaviors: [{ pathPattern: '/static/*', defaultTtl: '1h' }] })
    expect(o.behaviors.map((b) => b.pathPattern)).toEqual(['/static/*', '*'])
  })

  it('names the option, the expectation and the value in errors', () => {
    const cases: [unknown, string][] = [
      [{ origin: 'ftp://x' }, 'origin'],
      [{ origin: 'not a url' }, 'origin'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: 'api/*' }] }, 'behaviors[0].pathPattern'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: '*' }, { pathPattern: '/a' }] }, 'behaviors[0].pathPattern'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: '/a', defaultTtl: '5 minutes' }] }, 'behaviors[0].defaultTtl'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: '/a', headers: ['Connection'] }] }, 'behaviors[0].headers[0]'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: '/a', minTtl: '1h', maxTtl: '1m' }] }, 'behaviors[0]'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: '/a', allowedMethods: ['GET'], cachedMethods: ['GET', 'OPTIONS'] }] }, 'behaviors[0].cachedMethods'],
      [{ origin: 'http://x', behaviors: [{ pathPattern: '/a', ttl: 5 }] }, 'behaviors[0].ttl'],
      [{ origin: 'http://x', purgeToken: 'short' }, 'purgeToken'],
      [{ origin: 'http://x', maxObjectBytes: -1 }, 'maxObjectBytes'],
      [{ origin: 'http://x', adminPrefix: 'admin' }, 'adminPrefix'],
      [{ origin: 'http://x', storage: { policy: 'fifo' } }, 'storage.policy'],
      [{ origin: 'http://x', storage: { type: 'disk' } }, 'storage.type'],
    ]
    for (const [input, option] of cases) {
      try {
        resolveEdgeOptions(input as never)
        expect.unreachable(option)
      } catch (error) {
        expect(isTierCacheError(error, 'E_INVALID_OPTION'), option).toBe(true)
        expect((error as { context: { option: string } }).context.option).toBe(option)
        expect((error as Error).message).toMatch(/^expected .+ to be .+, got .+/)
      }
    }
  })

  it('never echoes a purge token in an error', () => {
    try {
      resolveEdgeOptions({ origin: 'http://x', purgeToken: 'secret12' })
    } catch (error) {
      expect((error as Error).message).not.toContain('secret12')
    }
  })
})

describe('behaviors', () => {
  it('matches CloudFront path patterns: * (including /) and ?, anchored, case-sensitive', () => {
    const r = patternToRegex('/api/*')
    expect(r.test('/api/')).toBe(true)
    expect(r.test('/api/x/y')).toBe(true)
    expect(r.test('/api')).toBe(false)
    expect(r.test('/API/x')).toBe(false)
    expect(patternToRegex('/img/?.png').test('/img/a.png')).toBe(true)
    expect(patternToRegex('/img/?.png').test('/img/ab.png')).toBe(false)
    expect(patternToRegex('/a.b').test('/aXb')).toBe(false)
    // The literal-prefix fast path agrees with the regex.
    const table = new BehaviorTable(resolveEdgeOptions({ origin: 'http://x', behaviors: [{ pathPattern: '/api/*' }, { pathPattern: '/i?g/*.png' }] }).behaviors)
    expect(table.match('/api/').options.pathPattern).toBe('/api/*')
    expect(table.match('/api').options.pathPattern).toBe('*')
    expect(table.match('/API/x').options.pathPattern).toBe('*')
    expect(table.match('/img/a/b.png').options.pathPattern).toBe('/i?g/*.png')
    expect(table.match('/img/a/b.jpg').options.pathPattern).toBe('*')
  })

  it('keys on the kept query strings, headers and cookies only, and never stores credentials in clear', () => {
    const table = new BehaviorTable(resolveEdgeOptions({
      origin: 'http://x',
      behaviors: [
        { pathPattern: '/q/*', queryStrings: ['b', 'a'] },
        { pathPattern: '/c/*', cookies: ['session'] },
        { pathPattern: '/api/*', headers: ['Authorization'], queryStrings: 'all' },
      ],
    }).behaviors)
    const q = table.match('/q/1')
    expect(q.urlPart('/q/1', 'z=9&b=2&a=1&a=0')).toBe('/q/1?a=1&a=0&b=2')
    expect(table.match('/other').urlPart('/other', 'x=1')).toBe('/other')
    const c = table.match('/c/1')
    expect(c.cookie({ cookie: 'theme=dark; session=abc' })).toBe('session=abc')
    expect(c.key('GET', '/c/1', { cookie: 'theme=dark; session=abc' })).toBe(c.key('GET', '/c/1', { cookie: 'session=abc; theme=light' }))
    expect(c.key('GET', '/c/1', { cookie: 'session=abc' })).not.toBe(c.key('GET', '/c/1', { cookie: 'session=xyz' }))
    const api = table.match('/api/me')
    const key = api.key('GET', '/api/me', { authorization: 'Bearer top-secret' })
    expect(key.startsWith('/api/me#')).toBe(true)
    expect(key).not.toContain('top-secret')
    expect(key).not.toBe(api.key('GET', '/api/me', {}))
    expect(api.key('OPTIONS', '/api/me', {})).toMatch(/^OPTIONS \/api\/me#/)
  })
})
