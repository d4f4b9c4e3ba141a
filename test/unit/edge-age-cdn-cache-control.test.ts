import { describe, expect, it } from 'vitest'
import { parseCdnCacheControl } from '../../src/edge/cache-control.js'
import { ageValue, controllingDirectives, decideStorage } from '../../src/edge/freshness.js'
import { fromRawHeaders } from '../../src/edge/header-list.js'
import { formatHttpDate } from '../../src/edge/http-date.js'
import { resolveBehavior } from '../../src/edge/behavior-options.js'
import { parseDictionary } from '../../src/edge/structured-field.js'

const NOW = 1_700_000_000_000
const behavior = resolveBehavior({ pathPattern: '*' }, 'b')
const facts = { authorization: false, cookieForwarded: false, noStore: false }

function decide(raw: string[]) {
  return decideStorage(200, fromRawHeaders(['Date', formatHttpDate(NOW), ...raw]), { requestTime: NOW, responseTime: NOW }, behavior, facts, 'tiercache', 0)
}

describe('Age (RFC 9111 §5.1)', () => {
  it('ignores an invalid value, as if the field were absent: the response stays fresh', () => {
    for (const age of ['abc', '-7200', '7200.0', '7200;foo=bar', '', '+5', '0x10']) {
      expect(ageValue(fromRawHeaders(['Age', age])), age).toBe(0)
      expect(decide(['Cache-Control', 'max-age=3600', 'Age', age]), age).toMatchObject({ store: true, lifetime: 3_600_000, initialAge: 0 })
    }
  })

  it('counts a list by its first member, on one line or several', () => {
    expect(ageValue(fromRawHeaders(['Age', '0, 7200']))).toBe(0)
    expect(ageValue(fromRawHeaders(['Age', '7200,0']))).toBe(7200)
    expect(ageValue(fromRawHeaders(['Age', '0', 'Age', '7200']))).toBe(0)
    expect(ageValue(fromRawHeaders(['Age', '7200', 'Age', '0']))).toBe(7200)
    expect(decide(['Cache-Control', 'max-age=3600', 'Age', '0, 0'])).toMatchObject({ store: true, lifetime: 3_600_000, initialAge: 0 })
    expect(decide(['Cache-Control', 'max-age=3600', 'Age', '7200', 'Age', '0'])).toMatchObject({ store: true, initialAge: 7_200_000 })
  })
})

describe('CDN-Cache-Control is a Structured Field Dictionary (RFC 9213 §2.1, RFC 8941)', () => {
  it('parses dictionaries strictly', () => {
    expect([...parseDictionary('max-age=60, no-store, x="a,b";p=1, y=?0')!.entries()]).toEqual([
      ['max-age', { type: 'integer', value: 60 }], ['no-store', { type: 'boolean', value: true }],
      ['x', { type: 'string', value: 'a,b' }], ['y', { type: 'boolean', value: false }],
    ])
    for (const bad of ['max-age=60, &&&&&', 'max-age =60', 'max-age= 60', 'MaX-aGe=60', 'max-age=60,', 'a="unterminated', 'a=1234567890123456']) {
      expect(parseDictionary(bad), bad).toBeUndefined()
    }
  })

  it('ignores the whole field when it is invalid or a known directive has the wrong type, falling back to Cache-Control', () => {
    for (const cdn of ['max-age=10000, &&&&&', 'max-age="10000"', 'no-store=1', 'max-age=-1', 'max-age=1.5']) {
      expect(parseCdnCacheControl(cdn), cdn).toBeUndefined()
      expect(controllingDirectives(fromRawHeaders(['CDN-Cache-Control', cdn, 'Cache-Control', 'no-store']), 'tiercache').source, cdn).toBe('cache-control')
      expect(decide(['CDN-Cache-Control', cdn, 'Cache-Control', 'no-store']), cdn).toEqual({ store: false, reason: 'no-store' })
    }
  })

  it('uses a valid field over Cache-Control, with unknown directives of any type ignored', () => {
    expect(decide(['CDN-Cache-Control', 'foobar, max-age=3600', 'Cache-Control', 'no-store'])).toMatchObject({ store: true, lifetime: 3_600_000 })
    expect(decide(['CDN-Cache-Control', 'max-age=99999999999'])).toMatchObject({ store: true })
    expect(decide(['CDN-Cache-Control', 'private="set-cookie", max-age=60'])).toMatchObject({ store: true, lifetime: 60_000 })
    expect(decide(['CDN-Cache-Control', 'ext=(a b);q=1, max-age=60'])).toMatchObject({ store: true, lifetime: 60_000 })
  })
})
