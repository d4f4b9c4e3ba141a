import { describe, expect, it } from 'vitest'
import { FLAG_MUST_REVALIDATE, FLAG_NO_CACHE, correctedInitialAge, decideStorage } from '../../src/edge/freshness.js'
import type { RequestFacts } from '../../src/edge/freshness.js'
import { fromRawHeaders } from '../../src/edge/header-list.js'
import { formatHttpDate } from '../../src/edge/http-date.js'
import { DEFAULT_BEHAVIORS, resolveBehavior } from '../../src/edge/behavior-options.js'

const NOW = Date.UTC(2026, 0, 1, 12)
const timing = { requestTime: NOW, responseTime: NOW }
const anonymous: RequestFacts = { authorization: false, cookieForwarded: false, noStore: false }
const plain = resolveBehavior({ pathPattern: '*' }, 'b')
const standard = resolveBehavior(DEFAULT_BEHAVIORS[1], 'default')
const api = resolveBehavior(DEFAULT_BEHAVIORS[0], 'api')
const KEEP = 86_400_000

function decide(raw: string[], options: { status?: number; behavior?: typeof plain; facts?: Partial<RequestFacts> } = {}) {
  return decideStorage(options.status ?? 200, fromRawHeaders(['Date', formatHttpDate(NOW), ...raw]), timing,
    options.behavior ?? plain, { ...anonymous, ...options.facts }, 'tiercache', KEEP)
}

describe('storage decision (RFC 9111 §3)', () => {
  it('prefers s-maxage over max-age over Expires, and clamps to the behavior', () => {
    expect(decide(['Cache-Control', 'max-age=60, s-maxage=10'])).toMatchObject({ store: true, lifetime: 10_000 })
    expect(decide(['Cache-Control', 'max-age=60', 'Expires', formatHttpDate(NOW + 5_000)])).toMatchObject({ store: true, lifetime: 60_000 })
    expect(decide(['Expires', formatHttpDate(NOW + 5_000)])).toMatchObject({ store: true, lifetime: 5_000 })
    expect(decide(['Cache-Control', 'max-age=3600'], { behavior: api })).toMatchObject({ store: true, lifetime: 300_000 })
  })

  it('refuses no-store, private, Vary: * and Set-Cookie (unless the behavior allows cookies)', () => {
    expect(decide(['Cache-Control', 'max-age=60, no-store'])).toEqual({ store: false, reason: 'no-store' })
    expect(decide(['Cache-Control', 'max-age=60, private'])).toEqual({ store: false, reason: 'private' })
    expect(decide(['Cache-Control', 'max-age=60', 'Vary', 'Foo, *'])).toEqual({ store: false, reason: 'vary-star' })
    expect(decide(['Cache-Control', 'max-age=60', 'Set-Cookie', 'a=1'])).toEqual({ store: false, reason: 'set-cookie' })
    const cookies = resolveBehavior({ pathPattern: '*', cacheSetCookie: true }, 'b')
    expect(decide(['Cache-Control', 'max-age=60', 'Set-Cookie', 'a=1'], { behavior: cookies })).toMatchObject({ store: true })
  })

  it('drops the fields of qualified private / no-cache instead of refusing', () => {
    const d = decide(['Cache-Control', 'max-age=60, private="x-user", no-cache="x-b"', 'X-User', 'bob'])
    expect(d).toMatchObject({ store: true })
    if (d.store) expect([...d.dropFields].sort()).toEqual(['x-b', 'x-user'])
  })

  it('applies §3.5 to Authorization and to forwarded cookies (cache deception)', () => {
    expect(decide(['Cache-Control', 'max-age=60'], { facts: { authorization: true } })).toEqual({ store: false, reason: 'authorization' })
    expect(decide(['Cache-Control', 'max-age=60'], { facts: { cookieForwarded: true } })).toEqual({ store: false, reason: 'authorization' })
    for (const cc of ['public, max-age=60', 's-maxage=60', 'max-age=60, must-revalidate']) {
      expect(decide(['Cache-Control', cc], { facts: { authorization: true } }), cc).toMatchObject({ store: true })
    }
  })

  it('gives the default TTL only to heuristically cacheable statuses without freshness information', () => {
    expect(decide([], { behavior: standard })).toMatchObject({ store: true, lifetime: 86_400_000 })
    expect(decide([], { behavior: standard, status: 201 })).toEqual({ store: false, reason: 'no-freshness' })
    expect(decide([], { behavior: standard, status: 503 })).toEqual({ store: false, reason: 'no-freshness' })
    expect(decide([])).toEqual({ store: false, reason: 'no-freshness' })
    expect(decide([], { behavior: api })).toEqual({ store: false, reason: 'no-freshness' })
  })

  it('uses the Last-Modified heuristic only when the behavior asks for it', () => {
    const lm = ['Last-Modified', formatHttpDate(NOW - 100_000)]
    const heuristic = resolveBehavior({ pathPattern: '*', heuristic: 0.1 }, 'b')
    expect(decide(lm, { behavior: heuristic })).toMatchObject({ store: true, lifetime: 10_000 })
    // Stored for revalidation (it has a validator), but with no freshness.
    expect(decide(lm)).toMatchObject({ store: true, lifetime: 0 })
  })

  it('treats invalid freshness information as stale', () => {
    expect(decide(['Expires', '0', 'ETag', '"x"'])).toMatchObject({ store: true, lifetime: 0 })
    expect(decide(['Cache-Control', "max-age='60'", 'ETag', '"x"'], { behavior: standard })).toMatchObject({ store: true, lifetime: 0 })
    // RFC 9111 §5.1: an Age list counts by its first member; it does not make the response stale.
    expect(decide(['Cache-Control', 'max-age=3600', 'Age', '0, 0', 'ETag', '"x"'])).toMatchObject({ store: true, lifetime: 3_600_000 })
  })

  it('marks no-cache, must-revalidate, proxy-revalidate and s-maxage as "never serve stale"', () => {
    const nc = decide(['Cache-Control', 'max-age=60, no-cache'])
    expect(nc).toMatchObject({ store: true, lifetime: 0, staleIfError: 0 })
    if (nc.store) expect(nc.flags & (FLAG_NO_CACHE | FLAG_MUST_REVALIDATE)).toBe(FLAG_NO_CACHE | FLAG_MUST_REVALIDATE)
    for (const cc of ['max-age=60, must-revalidate', 'max-age=60, proxy-revalidate', 's-maxage=60']) {
      const d = decide(['Cache-Control', `${cc}, stale-if-error=600`])
      expect(d, cc).toMatchObject({ store: true, staleIfError: 0, staleWhileRevalidate: 0 })
    }
  })

  it('reads stale-while-revalidate / stale-if-error (RFC 5861), defaulting to the behavior', () => {
    expect(decide(['Cache-Control', 'max-age=1, stale-while-revalidate=30, stale-if-error=60'])).toMatchObject({ staleWhileRevalidate: 30_000, staleIfError: 60_000 })
    expect(decide(['Cache-Control', 'max-age=1'])).toMatchObject({ staleWhileRevalidate: 0, staleIfError: 86_400_000 })
  })

  it('lets targeted fields win over Cache-Control (RFC 9213, Surrogate-Control)', () => {
    expect(decide(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age=30'])).toMatchObject({ store: true, lifetime: 30_000 })
    expect(decide(['Cache-Control', 'max-age=600', 'CDN-Cache-Control', 'no-store'])).toEqual({ store: false, reason: 'no-store' })
    expect(decide(['Cache-Control', 'no-store', 'Surrogate-Control', 'max-age=20;tiercache'])).toMatchObject({ store: true, lifetime: 20_000 })
    expect(decide(['Cache-Control', 'max-age=600', 'Surrogate-Control', 'max-age=20;other'])).toMatchObject({ store: true, lifetime: 600_000 })
  })

  it('honours must-understand only for understood statuses', () => {
    expect(decide(['Cache-Control', 'max-age=60, no-store, must-understand'])).toMatchObject({ store: true })
    expect(decide(['Cache-Control', 'max-age=60, no-store, must-understand'], { status: 599 })).toEqual({ store: false, reason: 'must-understand' })
  })

  it('never stores 206, 304, or under request no-store', () => {
    expect(decide(['Cache-Control', 'max-age=60'], { status: 206 })).toEqual({ store: false, reason: 'status' })
    expect(decide(['Cache-Control', 'max-age=60'], { status: 304 })).toEqual({ store: false, reason: 'status' })
    expect(decide(['Cache-Control', 'max-age=60'], { facts: { noStore: true } })).toEqual({ store: false, reason: 'request-no-store' })
  })
})

describe('age calculation (RFC 9111 §4.2.3)', () => {
  it('takes the larger of apparent age and corrected Age, plus the response delay', () => {
    const t = { requestTime: NOW - 2_000, responseTime: NOW }
    expect(correctedInitialAge(fromRawHeaders(['Age', '10', 'Date', formatHttpDate(NOW)]), t)).toBe(12_000)
    expect(correctedInitialAge(fromRawHeaders(['Date', formatHttpDate(NOW - 60_000)]), t)).toBe(60_000)
    // RFC 9111 §5.1: the first member of a list counts; an invalid value is ignored (Age 0).
    expect(correctedInitialAge(fromRawHeaders(['Age', '1', 'Age', '2']), t)).toBe(3_000)
    expect(correctedInitialAge(fromRawHeaders(['Age', '7200;foo=1']), t)).toBe(2_000)
  })
})
