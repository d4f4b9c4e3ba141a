import { describe, expect, it } from 'vitest'
import { INVALID, deltaSeconds, parseDirectives, parseSurrogateControl, qualifiedFields, surrogateMaxAge } from '../../src/edge/cache-control.js'
import { entityTags } from '../../src/edge/conditional.js'
import { fromRawHeaders, mergeNotModified, stripHopByHop } from '../../src/edge/header-list.js'
import { parseHttpDate } from '../../src/edge/http-date.js'
import { parseVary, varyKey } from '../../src/edge/vary.js'

describe('Cache-Control parsing (RFC 9111 §5.2)', () => {
  it('reads names case-insensitively and keeps the first occurrence', () => {
    const d = parseDirectives('MaX-AgE=60, max-age=10, public')
    expect(deltaSeconds(d, 'max-age')).toBe(60)
    expect(d.get('public')).toBe(null)
  })

  it('does not see directives inside quoted strings', () => {
    expect(deltaSeconds(parseDirectives('foo="max-age=3600", max-age=0'), 'max-age')).toBe(0)
    expect(parseDirectives('foo="a, max-age=3600"').has('max-age')).toBe(false)
    expect(parseDirectives('foo="\\"max-age=1\\""').has('max-age')).toBe(false)
  })

  it('treats malformed delta-seconds as invalid (NaN = stale) and clamps huge ones to 2^31', () => {
    expect(deltaSeconds(parseDirectives("max-age='3600'"), 'max-age')).toBeNaN()
    expect(deltaSeconds(parseDirectives('max-age=-1'), 'max-age')).toBeNaN()
    expect(deltaSeconds(parseDirectives('max-age=3600.5'), 'max-age')).toBeNaN()
    expect(deltaSeconds(parseDirectives('max-age'), 'max-age')).toBeNaN()
    expect(deltaSeconds(parseDirectives('max-age=003600'), 'max-age')).toBe(3600)
    expect(deltaSeconds(parseDirectives('max-age=99999999999'), 'max-age')).toBe(2147483648)
    expect(deltaSeconds(parseDirectives('public'), 'max-age')).toBeUndefined()
  })

  it('drops items with trailing garbage (space before "=")', () => {
    expect(parseDirectives('max-age =3600').has('max-age')).toBe(false)
    expect(parseDirectives('max-age=3600 x, public').has('max-age')).toBe(false)
    expect(parseDirectives('max-age=3600 x, public').has('public')).toBe(true)
    expect(parseDirectives('max-age="unterminated').get('max-age')).toBe(INVALID)
  })

  it('lists the fields of qualified no-cache and private', () => {
    expect(qualifiedFields(parseDirectives('no-cache="Set-Cookie, X-A"'), 'no-cache')).toEqual(['set-cookie', 'x-a'])
    expect(qualifiedFields(parseDirectives('no-cache'), 'no-cache')).toBeUndefined()
  })
})

describe('Surrogate-Control targeting (Edge Architecture 1.0)', () => {
  it('keeps untargeted directives and those targeted at this surrogate, ignores others', () => {
    expect(surrogateMaxAge(parseSurrogateControl('max-age=3600;not-for-you', 'tiercache'))).toBeUndefined()
    expect(surrogateMaxAge(parseSurrogateControl('max-age=3600;tiercache', 'tiercache'))).toEqual([3600, 0])
    expect(surrogateMaxAge(parseSurrogateControl('max-age=10, max-age=60;tiercache', 'tiercache'))).toEqual([60, 0])
    expect(surrogateMaxAge(parseSurrogateControl('max-age=60+600', 'tiercache'))).toEqual([60, 600])
    expect(parseSurrogateControl('no-store;other', 'tiercache').has('no-store')).toBe(false)
  })
})

describe('HTTP-date (RFC 9110 §5.6.7)', () => {
  it('accepts IMF-fixdate, RFC 850 and asctime; refuses the rest', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37)
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t)
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(t)
    for (const bad of ['0', '', 'Sun, 06 Nov 1994 08:49:37 UTC', 'sun, 06 nov 1994 08:49:37 GMT', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 8:49:37 GMT']) {
      expect(parseHttpDate(bad), bad).toBeNaN()
    }
  })
})

describe('header lists', () => {
  it('strips hop-by-hop fields and fields named in Connection', () => {
    const list = fromRawHeaders(['Connection', 'X-Secret, close', 'X-Secret', '1', 'Keep-Alive', 'timeout=5', 'TE', 'trailers',
      'Proxy-Authenticate', 'Basic', 'X-Kept', 'yes'])
    expect(stripHopByHop(list)).toEqual([['x-kept', 'yes']])
  })

  it('merges a 304 into stored fields except the ones describing the stored body', () => {
    const stored = fromRawHeaders(['ETag', '"a"', 'Content-Length', '10', 'X-A', '1', 'Cache-Control', 'max-age=1'])
    const update = fromRawHeaders(['ETag', '"b"', 'Content-Length', '0', 'X-A', '2', 'Cache-Control', 'max-age=9', 'X-New', 'n'])
    expect(mergeNotModified(stored, update, new Set())).toEqual([
      ['etag', '"a"'], ['content-length', '10'], ['x-a', '2'], ['cache-control', 'max-age=9'], ['x-new', 'n'],
    ])
  })
})

describe('Vary (RFC 9111 §4.1)', () => {
  it('parses names, sorts them and recognises * anywhere', () => {
    expect(parseVary(fromRawHeaders(['Vary', 'Foo, accept-language', 'Vary', 'bar']))).toEqual(['accept-language', 'bar', 'foo'])
    expect(parseVary(fromRawHeaders(['Vary', ', *']))).toBe('*')
    expect(parseVary(fromRawHeaders(['Vary', 'Foo', 'Vary', '*']))).toBe('*')
    expect(parseVary(fromRawHeaders(['Vary', ' ']))).toBeUndefined()
  })

  it('normalises whitespace around commas and tells a missing header from an empty one', () => {
    expect(varyKey(['foo'], { foo: 'a , b' })).toBe(varyKey(['foo'], { foo: 'a,b' }))
    expect(varyKey(['foo'], {})).not.toBe(varyKey(['foo'], { foo: '' }))
  })

  it('splits entity-tag lists without breaking quoted tags', () => {
    expect(entityTags('"a", W/"b,c" , "d"')).toEqual(['"a"', 'W/"b,c"', '"d"'])
  })
})
