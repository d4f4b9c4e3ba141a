import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import type { Edge } from '../../src/edge/index.js'
import { formatHttpDate } from '../../src/edge/http-date.js'
import type { TestOrigin } from './edge-helpers.js'
import { deferred, get, startEdge, startOrigin } from './edge-helpers.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function setup(handler: Parameters<typeof startOrigin>[0], options: Partial<Parameters<typeof startEdge>[0]> = {}) {
  const clock = new ManualClock(Date.now())
  const origin = await startOrigin(handler, () => clock.now())
  closers.push(() => origin.close())
  const started = await startEdge({ origin: origin.url, clock, ...options })
  closers.push(() => started.edge.close())
  return { origin, ...started }
}

describe('edge: RFC 9111 freshness and validation', () => {
  it('serves a fresh response from storage with a growing Age and the stored Date', async () => {
    const { origin, url, clock } = await setup((_req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end(`v${n}`)
    })
    const first = await get(`${url}/a`)
    expect(first).toMatchObject({ status: 200, text: 'v1' })
    expect(first.headers.get('x-cache')).toBe('MISS')
    await clock.advance(10_000)
    const second = await get(`${url}/a`)
    expect(second.text).toBe('v1')
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(10)
    expect(second.headers.get('date')).toBe(first.headers.get('date'))
    expect(origin.count()).toBe(1)
    await clock.advance(51_000)
    expect((await get(`${url}/a`)).text).toBe('v2')
    expect(origin.count()).toBe(2)
  })

  it('revalidates a stale response with If-None-Match and applies the 304 headers', async () => {
    const { origin, url, clock } = await setup((req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=10')
      res.setHeader('etag', '"e1"')
      res.setHeader('x-version', String(n))
      if (req.headers['if-none-match'] === '"e1"') {
        res.statusCode = 304
        res.end()
        return
      }
      res.end('body-1')
    })
    await get(`${url}/r`)
    await clock.advance(11_000)
    const revalidated = await get(`${url}/r`)
    expect(revalidated.text).toBe('body-1')
    expect(revalidated.headers.get('x-cache')).toBe('REVALIDATED')
    expect(revalidated.headers.get('x-version')).toBe('2')
    expect(origin.seen[1]?.headers['if-none-match']).toBe('"e1"')
    // Freshened: the next request is a hit with the updated header.
    const hit = await get(`${url}/r`)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(hit.headers.get('x-version')).toBe('2')
    expect(origin.count()).toBe(2)
    expect(hit.text).toBe('body-1')
  })

  it('revalidates with If-Modified-Since when there is only Last-Modified, and answers client conditionals itself', async () => {
    const lm = formatHttpDate(Date.now() - 3_600_000)
    const { origin, url, clock } = await setup((req, res) => {
      res.setHeader('cache-control', 'max-age=10')
      res.setHeader('last-modified', lm)
      if (req.headers['if-modified-since'] === lm) {
        res.statusCode = 304
        res.end()
        return
      }
      res.end('lm-body')
    })
    await get(`${url}/lm`)
    const conditional = await get(`${url}/lm`, { headers: { 'if-modified-since': lm } })
    expect(conditional.status).toBe(304)
    expect(origin.count()).toBe(1)
    await clock.advance(11_000)
    expect((await get(`${url}/lm`)).text).toBe('lm-body')
    expect(origin.seen[1]?.headers['if-modified-since']).toBe(lm)
  })

  it('never reuses no-store, private or Vary: * responses, and revalidates no-cache on every use', async () => {
    const { origin, url } = await setup((req, res) => {
      const cc: Record<string, string> = { '/ns': 'no-store, max-age=60', '/pv': 'private, max-age=60', '/star': 'max-age=60', '/nc': 'no-cache, max-age=60' }
      res.setHeader('cache-control', cc[req.url ?? ''] ?? 'max-age=60')
      if (req.url === '/star') res.setHeader('vary', '*')
      res.setHeader('etag', '"x"')
      if (req.headers['if-none-match'] === '"x"') {
        res.statusCode = 304
        res.end()
        return
      }
      res.end('x')
    })
    for (const path of ['/ns', '/pv', '/star', '/nc']) {
      await get(`${url}${path}`)
      await get(`${url}${path}`)
      expect(origin.count(path), path).toBe(2)
    }
    // no-cache was stored and validated (a 304), not refetched.
    expect(origin.seen.filter((s) => s.url === '/nc')[1]?.headers['if-none-match']).toBe('"x"')
  })

  it('stores one variant per Vary value', async () => {
    const { origin, url } = await setup((req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.setHeader('vary', 'X-Variant')
      res.end(`variant ${String(req.headers['x-variant'])}`)
    }, { behaviors: [{ pathPattern: '*', forwardHeaders: ['X-Variant'] }] })
    expect((await get(`${url}/v`, { headers: { 'x-variant': 'a' } })).text).toBe('variant a')
    expect((await get(`${url}/v`, { headers: { 'x-variant': 'b' } })).text).toBe('variant b')
    expect((await get(`${url}/v`, { headers: { 'x-variant': 'a' } })).text).toBe('variant a')
    expect((await get(`${url}/v`, { headers: { 'x-variant': 'b' } })).text).toBe('variant b')
    expect(origin.count()).toBe(2)
  })

  it('answers HEAD from a stored GET, and fills the cache with a GET on a HEAD miss', async () => {
    const { origin, url } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end('twelve bytes')
    })
    const head = await fetch(`${url}/h`, { method: 'HEAD' })
    expect(head.headers.get('content-length')).toBe('12')
    expect(await head.text()).toBe('')
    expect(origin.seen[0]?.method).toBe('GET')
    expect((await get(`${url}/h`)).text).toBe('twelve bytes')
    expect(origin.count()).toBe(1)
  })

  it('serves a single byte range from a stored response', async () => {
    const { origin, url } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end('0123456789')
    })
    await get(`${url}/range`)
    const part = await get(`${url}/range`, { headers: { range: 'bytes=2-4' } })
    expect(part.status).toBe(206)
    expect(part.text).toBe('234')
    expect(part.headers.get('content-range')).toBe('bytes 2-4/10')
    expect(origin.count()).toBe(1)
  })
})

describe('edge: request directives and cached OPTIONS', () => {
  it('ignores request Cache-Control by default and honours it when asked (no-cache, max-age, only-if-cached)', async () => {
    const handler = (_req: unknown, res: ServerResponse, _b: string, n: number): void => {
      res.setHeader('cache-control', 'max-age=600')
      res.setHeader('etag', `"v${n}"`)
      res.end(`v${n}`)
    }
    const strict = await setup(handler)
    await get(`${strict.url}/r`)
    expect((await get(`${strict.url}/r`, { headers: { 'cache-control': 'no-cache' } })).text).toBe('v1')
    expect((await get(`${strict.url}/r`, { headers: { pragma: 'no-cache' } })).text).toBe('v1')
    expect(strict.origin.count()).toBe(1)

    const lenient = await setup(handler, { honorRequestCacheControl: true })
    expect((await get(`${lenient.url}/r`, { headers: { 'cache-control': 'only-if-cached' } })).status).toBe(504)
    await get(`${lenient.url}/r`)
    await lenient.clock.advance(5_000)
    expect((await get(`${lenient.url}/r`, { headers: { 'cache-control': 'max-age=10' } })).text).toBe('v1')
    expect((await get(`${lenient.url}/r`, { headers: { 'cache-control': 'max-age=1' } })).text).toBe('v2')
    expect((await get(`${lenient.url}/r`, { headers: { 'cache-control': 'no-cache' } })).text).toBe('v3')
    expect(lenient.origin.seen[2]?.headers['if-none-match']).toBe('"v2"')
    expect(lenient.origin.count()).toBe(3)
  })

  it('caches OPTIONS under its own key when the behavior lists it', async () => {
    const { origin, url } = await setup((req, res) => {
      res.setHeader('cache-control', 'max-age=600')
      res.setHeader('allow', 'GET, OPTIONS')
      res.end(`${req.method}`)
    }, { behaviors: [{ pathPattern: '*', cachedMethods: ['GET', 'HEAD', 'OPTIONS'] }] })
    expect((await get(`${url}/o`, { method: 'OPTIONS' })).text).toBe('OPTIONS')
    expect((await get(`${url}/o`)).text).toBe('GET')
    expect((await get(`${url}/o`, { method: 'OPTIONS' })).text).toBe('OPTIONS')
    expect((await get(`${url}/o`)).text).toBe('GET')
    expect(origin.count()).toBe(2)
  })
})

describe('edge: invalidation after unsafe methods (RFC 9111 §4.4)', () => {
  it('forwards the method and body, then invalidates the URL and same-origin Location / Content-Location', async () => {
    const { origin, url } = await setup((req, res, body, n) => {
      if (req.method === 'POST') {
        res.statusCode = req.url === '/fail' ? 500 : 201
        res.setHeader('location', '/items/2')
        res.setHeader('content-location', 'http://elsewhere.example/items/3')
        res.end(`created from ${body}`)
        return
      }
      res.setHeader('cache-control', 'max-age=600')
      res.end(`${req.url} v${n}`)
    })
    for (const p of ['/items', '/items/2', '/items/3', '/fail']) await get(`${url}${p}`)
    const created = await get(`${url}/items`, { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } })
    expect(created).toMatchObject({ status: 201, text: 'created from payload' })
    expect(origin.seen.find((s) => s.method === 'POST')?.headers['content-type']).toBe('text/plain')
    const before = origin.count()
    await get(`${url}/items`)
    await get(`${url}/items/2`)
    await get(`${url}/items/3`)
    // /items and its Location were invalidated; the other host's Content-Location was not.
    expect(origin.count()).toBe(before + 2)
    expect(origin.count('/items/3')).toBe(1)
    // A failed POST invalidates nothing.
    await get(`${url}/fail`, { method: 'POST', body: 'x' })
    await get(`${url}/fail`)
    expect(origin.count('/fail')).toBe(2)
  })
})

describe('edge: stale-while-revalidate and stale-if-error (RFC 5861)', () => {
  it('serves stale while revalidating once in the background', async () => {
    const { origin, url, clock } = await setup((_req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=10, stale-while-revalidate=60')
      res.end(`v${n}`)
    })
    await get(`${url}/swr`)
    await clock.advance(15_000)
    const stale = await get(`${url}/swr`)
    expect(stale.text).toBe('v1')
    expect(stale.headers.get('x-cache')).toBe('STALE')
    await vi.waitFor(() => expect(origin.count()).toBe(2))
    await vi.waitFor(async () => expect((await get(`${url}/swr`)).text).toBe('v2'))
    expect(origin.count()).toBe(2)
  })

  it('serves stale when the origin fails, unless must-revalidate forbids it', async () => {
    let failing = false
    const { url, clock, edge } = await setup((req, res) => {
      if (failing) {
        res.statusCode = 503
        res.end('down')
        return
      }
      res.setHeader('cache-control', req.url === '/strict' ? 'max-age=10, must-revalidate' : 'max-age=10, stale-if-error=300')
      res.end(`ok ${req.url}`)
    })
    await get(`${url}/lenient`)
    await get(`${url}/strict`)
    await clock.advance(20_000)
    failing = true
    const lenient = await get(`${url}/lenient`)
    expect(lenient).toMatchObject({ status: 200, text: 'ok /lenient' })
    expect(lenient.headers.get('x-cache')).toBe('STALE')
    expect((await get(`${url}/strict`)).status).toBe(503)
    expect(edge.stats().staleIfError).toBe(1)
  })

  it('times the origin out on the injected clock, serves stale, then opens the breaker', async () => {
    const hang = deferred()
    let hanging = false
    const { origin, url, clock, edge } = await setup(async (_req, res) => {
      if (hanging) await hang.promise
      res.setHeader('cache-control', 'max-age=1, stale-if-error=3600')
      res.end('fresh')
    }, { originTimeout: '5s', breakerThreshold: 2, breakerCooldown: '30s' })
    closers.push(async () => hang.resolve())
    await get(`${url}/slow`)
    await clock.advance(2_000)
    hanging = true
    for (let i = 0; i < 2; i++) {
      const pending = get(`${url}/slow`)
      await vi.waitFor(() => expect(origin.count()).toBe(2 + i))
      await clock.advance(5_000)
      const stale = await pending
      expect(stale.text).toBe('fresh')
      expect(stale.headers.get('x-cache')).toBe('STALE')
    }
    expect(edge.stats()).toMatchObject({ originTimeouts: 2, breaker: 'open' })
    // Breaker open: nothing reaches the origin; stale is served, a path with nothing stored gets 503.
    expect((await get(`${url}/slow`)).text).toBe('fresh')
    const none = await get(`${url}/never-stored`)
    expect(none.status).toBe(503)
    expect(none.headers.get('retry-after')).toBe('30')
    expect(origin.count()).toBe(3)
    expect(edge.stats().originRejected).toBe(2)
  })
})

describe('edge: origin down', () => {
  it('answers 502 while the origin refuses connections, then opens the breaker (503) without trying', async () => {
    const origin = await startOrigin((_req, res) => { res.end('up') })
    const originUrl = origin.url
    await origin.close()
    const { url, edge } = await startEdge({ origin: originUrl, breakerThreshold: 3 })
    closers.push(() => edge.close())
    for (let i = 0; i < 3; i++) expect((await get(`${url}/x`)).status).toBe(502)
    expect(edge.stats().breaker).toBe('open')
    expect((await get(`${url}/x`)).status).toBe(503)
    expect(edge.stats()).toMatchObject({ originErrors: 3, originRejected: 1 })
  })

  it('does not open the breaker when the origin resets single requests it accepted', async () => {
    const { url, edge } = await setup((req, res) => {
      if (req.url === '/crash') {
        res.socket?.destroy()
        return
      }
      res.end('fine')
    }, { breakerThreshold: 2 })
    for (let i = 0; i < 4; i++) expect((await get(`${url}/crash`)).status).toBe(502)
    expect(edge.stats().breaker).toBe('closed')
    expect((await get(`${url}/ok`)).text).toBe('fine')
  })
})

describe('edge: targeted cache control', () => {
  it('lets CDN-Cache-Control and Surrogate-Control override Cache-Control, and hides Surrogate-Control from clients', async () => {
    const { origin, url } = await setup((req, res) => {
      res.setHeader('cache-control', 'no-store')
      if (req.url === '/cdn') res.setHeader('cdn-cache-control', 'max-age=60')
      else res.setHeader('surrogate-control', 'max-age=60;tiercache')
      res.end('t')
    })
    for (const p of ['/cdn', '/cdn', '/sc', '/sc']) await get(`${url}${p}`)
    expect(origin.count()).toBe(2)
    const sc = await get(`${url}/sc`)
    expect(sc.headers.get('surrogate-control')).toBe(null)
    expect(sc.headers.get('cache-control')).toBe('no-store')
    expect(origin.seen[0]?.headers['surrogate-capability']).toBe('tiercache="Surrogate/1.0"')
  })
})

describe('edge: behaviors (the default distribution)', () => {
  it('gives responses without freshness information the default TTL of 1 day, but not under /api/*', async () => {
    const { origin, url, clock } = await setup((_req, res) => { res.end('no headers') })
    await get(`${url}/page`)
    await get(`${url}/api/items`)
    await clock.advance(86_399_000)
    await get(`${url}/page`)
    await get(`${url}/api/items`)
    expect(origin.count('/page')).toBe(1)
    expect(origin.count('/api/items')).toBe(2)
    await clock.advance(2_000)
    await get(`${url}/page`)
    expect(origin.count('/page')).toBe(2)
  })

  it('caps /api/* at 300 s, keys it on Authorization, Accept and Accept-Language, and forwards query strings', async () => {
    const { origin, url, clock } = await setup((req, res) => {
      res.setHeader('cache-control', 's-maxage=3600')
      res.end(`${req.url} ${String(req.headers.authorization)} ${String(req.headers['accept-language'])}`)
    })
    const alice = await get(`${url}/api/me?x=1`, { headers: { authorization: 'Bearer alice', 'accept-language': 'fr' } })
    const bob = await get(`${url}/api/me?x=1`, { headers: { authorization: 'Bearer bob', 'accept-language': 'fr' } })
    expect(alice.text).toBe('/api/me?x=1 Bearer alice fr')
    expect(bob.text).toBe('/api/me?x=1 Bearer bob fr')
    expect((await get(`${url}/api/me?x=1`, { headers: { authorization: 'Bearer alice', 'accept-language': 'fr' } })).text).toBe(alice.text)
    expect(origin.count()).toBe(2)
    await clock.advance(301_000)
    await get(`${url}/api/me?x=1`, { headers: { authorization: 'Bearer alice', 'accept-language': 'fr' } })
    expect(origin.count()).toBe(3)
  })

  it('strips query strings, cookies and other headers on the default behavior, and refuses POST on /api/*', async () => {
    const { origin, url } = await setup((req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end(JSON.stringify({ url: req.url, headers: req.headers }))
    })
    await get(`${url}/p?utm=1`, { headers: { cookie: 'session=1', 'accept-language': 'de', 'user-agent': 'x' } })
    const seen = origin.seen[0]!
    expect(seen.url).toBe('/p')
    expect(Object.keys(seen.headers).sort()).toEqual(['connection', 'host', 'surrogate-capability', 'via', 'x-tiercache-hop'])
    expect((await get(`${url}/p?other=2`)).headers.get('x-cache')).toBe('HIT')
    const post = await get(`${url}/api/items`, { method: 'POST', body: '{}' })
    expect(post.status).toBe(403)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    expect(origin.count()).toBe(1)
  })

  it('compresses for clients that accept it, once per stored response', async () => {
    const big = 'hello world '.repeat(500)
    const { origin, url } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.setHeader('content-type', 'text/plain')
      res.setHeader('etag', '"big"')
      res.end(big)
    })
    const gz = await fetch(`${url}/big`, { headers: { 'accept-encoding': 'gzip' } })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(gz.headers.get('vary')).toBe('Accept-Encoding')
    expect(gz.headers.get('etag')).toBe('W/"big"')
    expect(await gz.text()).toBe(big)
    const br = await fetch(`${url}/big`, { headers: { 'accept-encoding': 'gzip, br' } })
    expect(br.headers.get('content-encoding')).toBe('br')
    expect(await br.text()).toBe(big)
    const plain = await get(`${url}/big`, { headers: { 'accept-encoding': 'identity' } })
    expect(plain.headers.get('content-encoding')).toBe(null)
    expect(plain.text).toBe(big)
    expect(origin.count()).toBe(1)
  })
})

describe('edge: request collapsing', () => {
  it('sends one origin request for concurrent misses of one key', async () => {
    const release = deferred()
    const { origin, url, edge } = await setup(async (_req, res) => {
      await release.promise
      res.setHeader('cache-control', 'max-age=60')
      res.end('shared')
    })
    const pending = Array.from({ length: 20 }, () => get(`${url}/hot`))
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(19))
    release.resolve()
    const results = await Promise.all(pending)
    expect(results.every((r) => r.text === 'shared')).toBe(true)
    expect(origin.count()).toBe(1)
    expect(results.filter((r) => r.headers.get('x-cache') === 'COLLAPSED')).toHaveLength(19)
  })

  it('never hands a private response to collapsed waiters: each fetches its own', async () => {
    const release = deferred()
    const { origin, url, edge } = await setup(async (_req, res, _b, n) => {
      if (n === 1) await release.promise
      res.setHeader('cache-control', 'private, max-age=60')
      res.end(`personal ${n}`)
    })
    const pending = Array.from({ length: 5 }, () => get(`${url}/me`))
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(4))
    release.resolve()
    const bodies = (await Promise.all(pending)).map((r) => r.text).sort()
    expect(new Set(bodies).size).toBe(5)
    expect(origin.count()).toBe(5)
    // Hit-for-pass: for a while the key is known to be unshareable, so requests no longer queue.
    await Promise.all(Array.from({ length: 3 }, () => get(`${url}/me`)))
    expect(edge.stats().collapsed).toBe(4)
    expect(origin.count()).toBe(8)
  })
})

describe('edge: storage bounds', () => {
  it('streams responses over maxObjectBytes through without storing them', async () => {
    const chunk = 'x'.repeat(64 * 1024)
    const { origin, url, edge } = await setup((req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      // One with a length, one chunked: both go past the bound.
      if (req.url === '/chunked') {
        for (let i = 0; i < 8; i++) res.write(chunk)
        res.end()
      } else {
        res.setHeader('content-length', String(chunk.length * 8))
        res.end(chunk.repeat(8))
      }
    }, { maxObjectBytes: 100 * 1024 })
    for (const p of ['/sized', '/sized', '/chunked', '/chunked']) {
      const r = await get(`${url}${p}`)
      expect(r.text.length, p).toBe(chunk.length * 8)
    }
    expect(origin.count()).toBe(4)
    expect(edge.stats().notStored['too-large']).toBe(4)
  })
})

describe('edge: metrics', () => {
  it('counts hits, misses, bytes and origin latency, exposes Prometheus text and bounded diagnostics events', async () => {
    const diagnostics = await import('node:diagnostics_channel')
    const events: Record<string, unknown>[] = []
    const onEvent = (message: unknown): void => { events.push(message as Record<string, unknown>) }
    diagnostics.subscribe('tiercache:edge:request', onEvent)
    closers.push(async () => { diagnostics.unsubscribe('tiercache:edge:request', onEvent) })
    const { url, edge } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end('12345')
    }, { admin: { port: 0 } })
    await get(`${url}/secret-path-1`)
    await get(`${url}/secret-path-1`)
    const s = edge.stats()
    expect(s).toMatchObject({ requests: 2, hits: 1, misses: 1, stored: 1, bytesServed: 10, bytesFromOrigin: 5, originRequests: 1 })
    expect(s.originLatency.count).toBe(1)
    const text = (await get(`${edge.adminUrl}/.tiercache/metrics`)).text
    expect(text).toContain('tiercache_edge_requests_total{result="hit"} 1')
    expect(text).toContain('tiercache_edge_origin_latency_seconds_count 1')
    expect(text).not.toContain('secret-path')
    expect(events.map((e) => e.result)).toEqual(['miss', 'hit'])
    expect(JSON.stringify(events)).not.toContain('secret-path')
  })
})

export type { Edge, TestOrigin }
