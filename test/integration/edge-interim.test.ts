import { afterEach, describe, expect, it } from 'vitest'
import { rawRequest, startEdge, startOrigin } from './edge-helpers.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

// RFC 9110 §15.2: a proxy forwards interim (1xx) responses; RFC 9111 §3: a cache never stores them.
describe('edge: interim responses', () => {
  it('passes 102 and 103 on to the client that caused the fill, and stores only the final response', async () => {
    const origin = await startOrigin((_req, res) => {
      res.writeProcessing()
      res.writeEarlyHints({ link: '</styles.css>; rel=preload; as=style', 'x-my-header': 'test' })
      res.setHeader('cache-control', 'max-age=100000')
      res.end('final')
    })
    closers.push(() => origin.close())
    const { url, edge } = await startEdge({ origin: origin.url })
    closers.push(() => edge.close())
    const first = await rawRequest(url, 'GET /page HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n', 1_000)
    expect(first).toMatch(/^HTTP\/1\.1 102 Processing\r\n\r\nHTTP\/1\.1 103 Early Hints\r\n/)
    expect(first).toMatch(/link: <\/styles\.css>; rel=preload; as=style\r\n/i)
    expect(first).toMatch(/x-my-header: test\r\n/i)
    expect(first).toMatch(/\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfinal$/)
    const second = await rawRequest(url, 'GET /page HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n', 1_000)
    expect(second).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(second.toLowerCase()).toContain('x-cache: hit')
    expect(origin.count()).toBe(1)
  })

  it('never sends an interim response to an HTTP/1.0 client', async () => {
    const origin = await startOrigin((_req, res) => {
      res.writeEarlyHints({ link: '</a.css>; rel=preload' })
      res.end('x')
    })
    closers.push(() => origin.close())
    const { url, edge } = await startEdge({ origin: origin.url })
    closers.push(() => edge.close())
    expect(await rawRequest(url, 'GET /old HTTP/1.0\r\nHost: e\r\n\r\n', 1_000)).toMatch(/^HTTP\/1\.1 200 /)
  })
})
