import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import type { EdgeOptions } from '../../src/edge/index.js'
import { get, rawRequest, startEdge, startOrigin } from '../integration/edge-helpers.js'

const TOKEN = 'purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function setup(options: Partial<Omit<EdgeOptions, 'clock'>> = {}) {
  const clock = new ManualClock(Date.now())
  const origin = await startOrigin((req, res, _b, n) => {
    res.setHeader('cache-control', 'max-age=600')
    res.setHeader('surrogate-key', `tag${req.url ?? ''}`)
    res.end(`${req.url} #${n}`)
  }, () => clock.now())
  closers.push(() => origin.close())
  const started = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN, ...options })
  closers.push(() => started.edge.close())
  return { origin, ...started }
}

function purge(url: string, body: unknown) {
  return get(`${url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) })
}

describe('edge purge API under abuse', () => {
  it('answers an oversized body with 413 and a JSON error, whether Content-Length announces it or not', async () => {
    const { url } = await setup()
    const big = JSON.stringify({ tags: Array.from({ length: 9000 }, (_, i) => `tag-${i}`) })
    expect(big.length).toBeGreaterThan(64 * 1024)
    const declared = await get(`${url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: big })
    expect(declared.status).toBe(413)
    expect(JSON.parse(declared.text)).toMatchObject({ ok: false, code: 'E_PURGE_TOO_LARGE' })
    const chunks = `${(70 * 1024).toString(16)}\r\n${'a'.repeat(70 * 1024)}\r\n0\r\n\r\n`
    const chunked = await rawRequest(url, `POST /.tiercache/purge HTTP/1.1\r\nHost: e\r\nAuthorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`, 2_000)
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /)
    expect(chunked).toContain('"code":"E_PURGE_TOO_LARGE"')
  })

  it('honours purge.maxBodyBytes', async () => {
    const { url } = await setup({ purge: { maxBodyBytes: 100 } })
    expect((await purge(url, { tags: ['a'] })).status).toBe(200)
    expect((await purge(url, { tags: Array.from({ length: 20 }, (_, i) => `tag-${i}`) })).status).toBe(413)
  })

  it('rate-limits a purge flood with 429 and Retry-After, and accepts purges again once the rate allows', async () => {
    const { url, edge, clock } = await setup({ purge: { ratePerSecond: 10, burst: 5 } })
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => purge(url, { tags: [`t${i}`] })))
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(15)
    const limited = answers.find((a) => a.status === 429)!
    expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
    expect(JSON.parse(limited.text)).toMatchObject({ ok: false, code: 'E_PURGE_RATE_LIMITED' })
    expect(edge.stats().purgesRateLimited).toBe(15)
    await clock.advance(1_000)
    expect((await purge(url, { tags: ['later'] })).status).toBe(200)
  })

  it('applies purges that arrive together in one batch, off the request path, and every one of them takes effect', async () => {
    const { url, edge, origin } = await setup()
    const paths = Array.from({ length: 40 }, (_, i) => `/p${i}`)
    for (const p of paths) await get(`${url}${p}`)
    // Submitted in one turn of the event loop: applied together, after it.
    const results = await Promise.all(paths.map((p) => edge.purge({ tags: [`tag${p}`] })))
    expect(results.every((r) => r.entries === 40)).toBe(true)
    const s = edge.stats()
    expect(s.purges).toBe(40)
    expect(s.purgeBatches).toBe(1)
    expect(s.purgedEntries).toBe(40)
    for (const p of paths) expect((await get(`${url}${p}`)).headers.get('x-cache')).toBe('MISS')
    expect(origin.count()).toBe(80)
  })
})
