import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import { get, rawRequest, startEdge, startOrigin } from '../integration/edge-helpers.js'

// Request-line and header oddities node:http lets through. (CL + TE, obs-fold, absolute-form,
// a missing Host and friends are in test/integration/edge-security.test.ts.)

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function setup() {
  const clock = new ManualClock(Date.now())
  const origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'max-age=600')
    res.end(`origin saw ${req.url}`)
  }, () => clock.now())
  closers.push(() => origin.close())
  const started = await startEdge({ origin: origin.url, clock })
  closers.push(() => started.edge.close())
  return { origin, ...started }
}

describe('edge: protocol edges', () => {
  it('answers CONNECT with a status line instead of dropping the socket', async () => {
    const { url, origin } = await setup()
    const answer = await rawRequest(url, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 (405|501) /)
    expect(origin.count()).toBe(0)
  })

  it('strips a fragment sent on the wire: neither forwarded nor a key of its own', async () => {
    const { url, origin } = await setup()
    const first = await rawRequest(url, 'GET /page#frag HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n')
    expect(first).toMatch(/^HTTP\/1\.1 200/)
    expect(first).toContain('origin saw /page')
    const second = await rawRequest(url, 'GET /page#other HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n')
    expect(second.toLowerCase()).toContain('x-cache: hit')
    expect(origin.seen.map((s) => s.url)).toEqual(['/page'])
  })

  const refused: [string, string, RegExp][] = [
    ['two Host headers (RFC 9112 §3.2)', 'GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['a Host value that is not a host', 'GET /a HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['a Host list', 'GET /a HTTP/1.1\r\nHost: a, b\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1)', 'POST /a HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['Transfer-Encoding without chunked last (RFC 9112 §6.3)', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['a transfer coding the edge does not implement', 'POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 501 /],
    ['an HTTP/0.9 request', 'GET /a\r\n\r\n', /^HTTP\/1\.1 (400|505) /],
  ]

  it.each(refused)('refuses %s and forwards nothing', async (_name, bytes, expected) => {
    const { url, origin } = await setup()
    expect(await rawRequest(url, bytes)).toMatch(expected)
    expect(origin.count()).toBe(0)
    expect((await get(`${url}/after`)).status).toBe(200)
  })
})
