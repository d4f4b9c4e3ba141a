import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import type { EdgeOptions } from '../../src/edge/index.js'
import { deferred, get, rawRequest, startEdge, startOrigin } from './edge-helpers.js'
import type { OriginHandler } from './edge-helpers.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function setup(handler: OriginHandler, options: Partial<Omit<EdgeOptions, 'clock'>> = {}) {
  const clock = new ManualClock(Date.now())
  const origin = await startOrigin(handler, () => clock.now())
  closers.push(() => origin.close())
  const started = await startEdge({ origin: origin.url, clock, ...options })
  closers.push(() => started.edge.close())
  return { origin, ...started }
}

describe('edge security: Set-Cookie', () => {
  it('never shares a response carrying Set-Cookie, even between collapsed requests', async () => {
    const release = deferred()
    const { origin, url, edge } = await setup(async (_req, res, _b, n) => {
      if (n === 1) await release.promise
      res.setHeader('cache-control', 'public, max-age=600')
      res.setHeader('set-cookie', `session=user-${n}`)
      res.end(`hello user ${n}`)
    })
    const pending = [get(`${url}/welcome`), get(`${url}/welcome`), get(`${url}/welcome`)]
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(2))
    release.resolve()
    const responses = await Promise.all(pending)
    const cookies = responses.map((r) => r.headers.get('set-cookie'))
    expect(new Set(cookies).size).toBe(3)
    for (const r of responses) expect(r.text).toBe(`hello ${String(r.headers.get('set-cookie')).replace('session=', '').replace('-', ' ')}`)
    const later = await get(`${url}/welcome`)
    expect(later.headers.get('set-cookie')).toBe('session=user-4')
    expect(origin.count()).toBe(4)
    expect(edge.stats().notStored['set-cookie']).toBe(4)
  })

  it('stores Set-Cookie responses only when a behavior explicitly allows it', async () => {
    const { origin, url } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=600')
      res.setHeader('set-cookie', 'ab-test=b')
      res.end('variant b')
    }, { behaviors: [{ pathPattern: '/ab/*', cacheSetCookie: true }] })
    await get(`${url}/ab/x`)
    expect((await get(`${url}/ab/x`)).headers.get('set-cookie')).toBe('ab-test=b')
    await get(`${url}/other`)
    await get(`${url}/other`)
    expect(origin.count('/ab/x')).toBe(1)
    expect(origin.count('/other')).toBe(2)
  })
})

describe('edge security: unkeyed inputs never reach the origin', () => {
  it('drops X-Forwarded-Host and friends, so a poisoned response cannot be stored', async () => {
    const { origin, url } = await setup((req, res) => {
      // A typical vulnerable origin: builds absolute URLs from X-Forwarded-Host.
      const host = String(req.headers['x-forwarded-host'] ?? req.headers.host)
      res.setHeader('cache-control', 'max-age=600')
      res.end(`<script src="//${host}/app.js"></script>`)
    })
    const attack = await get(`${url}/home`, {
      headers: {
        'x-forwarded-host': 'evil.example', 'x-forwarded-scheme': 'nothttps', 'x-original-url': '/admin', 'x-rewrite-url': '/admin',
        'x-http-method-override': 'DELETE', forwarded: 'host=evil.example', 'x-host': 'evil.example', 'user-agent': 'evil',
      },
    })
    expect(attack.text).not.toContain('evil')
    const victim = await get(`${url}/home`)
    expect(victim.text).not.toContain('evil')
    expect(victim.headers.get('x-cache')).toBe('HIT')
    const seen = origin.seen[0]!.headers
    for (const name of ['x-forwarded-host', 'x-forwarded-scheme', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'forwarded', 'x-host', 'user-agent']) {
      expect(seen[name], name).toBeUndefined()
    }
  })

  it('strips hop-by-hop and Connection-listed headers in both directions, and never stores them', async () => {
    const { origin, url } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=600')
      res.setHeader('connection', 'x-internal-token')
      res.setHeader('x-internal-token', 'secret')
      res.setHeader('keep-alive', 'timeout=99')
      res.setHeader('proxy-authenticate', 'Basic')
      res.setHeader('x-public', 'yes')
      res.end('ok')
    }, { behaviors: [{ pathPattern: '*', headers: ['X-Keyed', 'X-Other'] }] })
    const first = await rawRequest(url, 'GET /h HTTP/1.1\r\nHost: edge\r\nConnection: close, X-Keyed\r\nX-Keyed: hop\r\nX-Other: kept\r\n' +
      'TE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic eA==\r\nKeep-Alive: 300\r\n\r\n')
    expect(first).toMatch(/^HTTP\/1\.1 200/)
    for (const response of [first, await rawRequest(url, 'GET /h HTTP/1.1\r\nHost: edge\r\nX-Other: kept\r\nConnection: close\r\n\r\n')]) {
      expect(response.toLowerCase()).not.toContain('x-internal-token')
      expect(response.toLowerCase()).not.toContain('secret')
      expect(response.toLowerCase()).not.toContain('proxy-authenticate')
      expect(response.toLowerCase()).not.toContain('timeout=99')
      expect(response.toLowerCase()).toContain('x-public: yes')
    }
    const seen = origin.seen[0]!.headers
    expect(seen['x-keyed']).toBeUndefined()
    expect(seen['x-other']).toBe('kept')
    for (const name of ['te', 'upgrade', 'proxy-authorization', 'keep-alive']) expect(seen[name], name).toBeUndefined()
  })
})

describe('edge security: cache deception', () => {
  it('never stores a personal page requested as /account.css', async () => {
    const personal: OriginHandler = (req, res) => {
      const session = /session=(\w+)/.exec(req.headers.cookie ?? '')?.[1]
      // The classic mistake: the app ignores the suffix and sends no Cache-Control (or a max-age).
      if (req.url === '/account.css/max-age') res.setHeader('cache-control', 'max-age=600')
      res.end(session === undefined ? 'please log in' : `account of ${session}: card 4111-1111`)
    }
    // 1) The default behavior forwards no cookies: the origin never personalises the response.
    const plain = await setup(personal)
    expect((await get(`${plain.url}/account.css`, { headers: { cookie: 'session=alice' } })).text).toBe('please log in')
    // 2) A behavior that forwards the session cookie: personal responses are never stored (RFC 9111
    //    §3.5 applied to forwarded cookies), with or without a max-age.
    const keyed = await setup(personal, { behaviors: [{ pathPattern: '*', cookies: ['session'], defaultTtl: '1d' }] })
    for (const path of ['/account.css', '/account.css/max-age']) {
      expect((await get(`${keyed.url}${path}`, { headers: { cookie: 'session=alice' } })).text).toContain('alice')
      const attacker = await get(`${keyed.url}${path}`)
      expect(attacker.text).toBe('please log in')
      expect((await get(`${keyed.url}${path}`, { headers: { cookie: 'session=alice' } })).headers.get('x-cache')).toBe('MISS')
    }
    expect(keyed.edge.stats().notStored.authorization).toBe(4)
  })
})

describe('edge security: strict parsing and limits', () => {
  const malformed: [string, string, RegExp][] = [
    ['CL and TE together (smuggling)', 'POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : e\r\n\r\n', /^HTTP\/1\.1 400/],
    ['invalid header name', 'GET / HTTP/1.1\r\nHost: e\r\nBad(Name): x\r\n\r\n', /^HTTP\/1\.1 400/],
    ['NUL in a header value', 'GET / HTTP/1.1\r\nHost: e\r\nX-A: a\u0000b\r\n\r\n', /^HTTP\/1\.1 400/],
    ['two Content-Length values', 'POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', /^HTTP\/1\.1 400/],
    ['absolute-form target', 'GET http://evil.example/ HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400/],
    ['no Host header', 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400/],
    ['garbage request line', 'HELLO\r\n\r\n', /^HTTP\/1\.1 400/],
    ['unknown HTTP version', 'GET / HTTP/9.9\r\nHost: e\r\n\r\n', /^HTTP\/1\.1 (400|505)/],
    ['control character in the target', 'GET /a\u0001b HTTP/1.1\r\nHost: e\r\n\r\n', /^HTTP\/1\.1 400/],
    ['oversized header section', `GET / HTTP/1.1\r\nHost: e\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431/],
    ['request-target too long', `GET /${'a'.repeat(9_000)} HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n`, /^HTTP\/1\.1 414/],
  ]

  it.each(malformed)('answers %s with an error and never forwards it', async (_name, bytes, expected) => {
    const { origin, url } = await setup((_req, res) => { res.end('fine') })
    expect(await rawRequest(url, bytes)).toMatch(expected)
    expect(origin.count()).toBe(0)
    expect((await get(`${url}/after`)).text).toBe('fine')
  })

  it('survives a fuzz run of malformed requests: every answer is a well-formed status line or a closed socket', async () => {
    const errors: unknown[] = []
    const onError = (error: unknown): void => { errors.push(error) }
    process.on('uncaughtException', onError)
    process.on('unhandledRejection', onError)
    closers.push(async () => {
      process.off('uncaughtException', onError)
      process.off('unhandledRejection', onError)
    })
    const { url, edge } = await setup((_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end('fine')
    }, { purgeToken: 'purge-token-0123456789' })
    // A deterministic generator (xorshift): mutations of valid requests plus random bytes.
    let seed = 0x2f6b1d3
    const rand = (n: number): number => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) % n
    }
    const bases = [
      'GET /a?x=1 HTTP/1.1\r\nHost: e\r\nAccept: */*\r\n\r\n',
      'POST /.tiercache/purge HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer purge-token-0123456789\r\nContent-Length: 16\r\n\r\n{"tags":["a"]}\r\n',
      'GET /api/x HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer t\r\nRange: bytes=0-1\r\nIf-None-Match: "x"\r\n\r\n',
      'PUT /b HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ]
    const specials = ['\r', '\n', '\u0000', ' ', ':', '"', '\u00ff', '\t', ',', ';', '%', '/', '?', '#', '\\', '{', '}', '-', '=']
    const cases: string[] = []
    for (let i = 0; i < 600; i++) {
      const base = bases[rand(bases.length)]!
      const chars = [...base]
      const edits = 1 + rand(4)
      for (let e = 0; e < edits; e++) {
        const at = rand(chars.length)
        const op = rand(4)
        if (op === 0) chars.splice(at, 1)
        else if (op === 1) chars.splice(at, 0, specials[rand(specials.length)]!)
        else if (op === 2) chars[at] = String.fromCharCode(rand(256))
        else chars.splice(at, 0, chars.slice(at, at + rand(40)).join('').repeat(1 + rand(50)))
      }
      cases.push(chars.join(''))
    }
    for (let i = 0; i < 100; i++) cases.push(Array.from({ length: 1 + rand(300) }, () => String.fromCharCode(rand(256))).join(''))
    for (let i = 0; i < cases.length; i += 25) {
      const answers = await Promise.all(cases.slice(i, i + 25).map((c) => rawRequest(url, Buffer.from(c, 'latin1'), 200)))
      for (const answer of answers) {
        if (answer !== '') expect(answer).toMatch(/^HTTP\/1\.1 [1-5]\d\d /)
      }
    }
    expect(errors).toEqual([])
    expect((await get(`${url}/still-alive`)).text).toBe('fine')
    expect(edge.stats().rejected).toBeGreaterThan(0)
  })
})
