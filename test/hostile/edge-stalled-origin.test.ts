import http from 'node:http'
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import type { EdgeOptions } from '../../src/edge/index.js'
import { get, startEdge, startOrigin } from '../integration/edge-helpers.js'
import type { OriginHandler } from '../integration/edge-helpers.js'

// An origin that sends its headers and a few bytes, then nothing: the fill must not hang forever,
// must not hold every later request for the URL, and a purge must be able to free it.

const TOKEN = 'purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

/** Responses the stalling origin holds open; ended at teardown so every socket closes. */
const held: ServerResponse[] = []

async function setup(handler: OriginHandler, options: Partial<Omit<EdgeOptions, 'clock'>> = {}) {
  const clock = new ManualClock(Date.now())
  const origin = await startOrigin(handler, () => clock.now())
  closers.push(() => origin.close())
  closers.push(async () => { for (const res of held.splice(0)) res.destroy() })
  const started = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN, originBodyTimeout: '5s', ...options })
  closers.push(() => started.edge.close())
  return { origin, ...started }
}

function stall(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, { 'content-length': '100', ...headers })
  res.write('hello')
  held.push(res)
}

/** Moves the edge clock until `check` passes: the body timer is on that clock. */
async function advanceUntil(clock: ManualClock, check: () => void): Promise<void> {
  await vi.waitFor(async () => {
    await clock.advance(1_000)
    check()
  }, { timeout: 10_000, interval: 20 })
}

describe('edge against an origin that stalls mid-body', () => {
  it('abandons the fill after the body idle timeout: 504 to the request and its waiters, then a new fill', async () => {
    const { origin, url, edge, clock } = await setup((_req, res, _b, n) => {
      if (n === 1) return stall(res, { 'cache-control': 'max-age=600' })
      res.setHeader('cache-control', 'max-age=600')
      res.end('complete body')
    })
    const pending = [get(`${url}/page`), get(`${url}/page`), get(`${url}/page`)]
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(2))
    await advanceUntil(clock, () => expect(edge.stats().originBodyTimeouts).toBe(1))
    const answers = await Promise.all(pending)
    expect(answers.map((a) => a.status)).toEqual([504, 504, 504])
    const next = await get(`${url}/page`)
    expect(next.status).toBe(200)
    expect(next.text).toBe('complete body')
    expect(origin.count('/page')).toBe(2)
    expect((await get(`${url}/page`)).headers.get('x-cache')).toBe('HIT')
  })

  it('gives the waiters the stale copy when stale-if-error allows it', async () => {
    const { url, edge, clock } = await setup((_req, res, _b, n) => {
      if (n === 2) return stall(res, { 'cache-control': 'max-age=1, stale-if-error=600' })
      res.setHeader('cache-control', 'max-age=1, stale-if-error=600')
      res.end(`version ${n}`)
    })
    expect((await get(`${url}/doc`)).text).toBe('version 1')
    await clock.advance(2_000)
    const pending = [get(`${url}/doc`), get(`${url}/doc`)]
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(1))
    await advanceUntil(clock, () => expect(edge.stats().originBodyTimeouts).toBe(1))
    for (const answer of await Promise.all(pending)) {
      expect(answer.status).toBe(200)
      expect(answer.text).toBe('version 1')
      expect(answer.headers.get('x-cache')).toBe('STALE')
    }
  })

  it('survives a 5xx body that stalls while the edge discards it (stale-if-error answered first)', async () => {
    const { url, edge, clock } = await setup((_req, res, _b, n) => {
      if (n === 2) {
        res.writeHead(500, { 'content-length': '100' })
        res.write('x')
        held.push(res)
        return
      }
      res.setHeader('cache-control', 'max-age=1, stale-if-error=600')
      res.end(`version ${n}`)
    })
    expect((await get(`${url}/e`)).text).toBe('version 1')
    await clock.advance(2_000)
    const stale = await get(`${url}/e`)
    expect([stale.status, stale.text, stale.headers.get('x-cache')]).toEqual([200, 'version 1', 'STALE'])
    // The 500's body is being discarded; when it stalls, the edge abandons it and carries on.
    await advanceUntil(clock, () => expect(edge.stats().originBodyTimeouts).toBe(1))
    expect((await get(`${url}/e`)).text).toBe('version 3')
  })

  it('lets a purge cancel the in-flight fill of a purged URL: the waiting requests get a new fill', async () => {
    const { origin, url, edge } = await setup((_req, res, _b, n) => {
      if (n === 1) return stall(res, { 'cache-control': 'max-age=600', 'surrogate-key': 'item:1' })
      res.setHeader('cache-control', 'max-age=600')
      res.end(`fill ${n}`)
    }, { originBodyTimeout: '1h' })
    const pending = [get(`${url}/item/1`), get(`${url}/item/1`)]
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(1))
    const purged = await get(`${url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ urls: ['/item/1'] }) })
    expect(purged.status).toBe(200)
    const answers = await Promise.all(pending)
    expect(answers.map((a) => [a.status, a.text])).toEqual([[200, 'fill 2'], [200, 'fill 2']])
    expect(origin.count('/item/1')).toBe(2)
    expect(edge.stats().fillsCancelled).toBe(1)
  })

  it('cancels a fill by tag once the stalled response has named its tags', async () => {
    const { url, edge } = await setup((_req, res, _b, n) => {
      if (n === 1) return stall(res, { 'cache-control': 'max-age=600', 'surrogate-key': 'item:7' })
      res.setHeader('cache-control', 'max-age=600')
      res.end(`fill ${n}`)
    }, { originBodyTimeout: '1h' })
    const pending = get(`${url}/seven`)
    await vi.waitFor(() => expect(edge.stats().originRequests).toBe(1))
    await get(`${url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: ['item:7'] }) })
    expect(await pending).toMatchObject({ status: 200, text: 'fill 2' })
  })

  it('bounds the waiters of one fill: past the bound a request gets 503 with Retry-After', async () => {
    const { url, edge, clock } = await setup((_req, res) => stall(res, { 'cache-control': 'max-age=600' }), { maxWaitersPerFill: 3 })
    const pending = [0, 1, 2, 3].map(() => get(`${url}/hot`))
    await vi.waitFor(() => expect(edge.stats().collapsed).toBe(3))
    const refused = await get(`${url}/hot`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(edge.stats().waitersRefused).toBe(1)
    await advanceUntil(clock, () => expect(edge.stats().originBodyTimeouts).toBe(1))
    expect((await Promise.all(pending)).map((a) => a.status)).toEqual([504, 504, 504, 504])
  })

  it('ends a response being streamed to a client abnormally when the origin stalls', async () => {
    const { url, edge, clock } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': String(1_000_000), 'cache-control': 'no-store' })
      res.write(Buffer.alloc(4096, 0x61))
      held.push(res)
    })
    const outcome = new Promise<{ complete: boolean; bytes: number }>((resolve) => {
      http.get(`${url}/big`, (res) => {
        let bytes = 0
        res.on('data', (c: Buffer) => { bytes += c.length })
        res.on('close', () => resolve({ complete: res.complete, bytes }))
        res.on('error', () => {})
      }).on('error', () => {})
    })
    await vi.waitFor(() => expect(edge.stats().bytesServed + edge.stats().passes + edge.stats().misses).toBeGreaterThan(0))
    await advanceUntil(clock, () => expect(edge.stats().originBodyTimeouts).toBe(1))
    const seen = await outcome
    expect(seen.complete).toBe(false)
    expect(seen.bytes).toBeLessThan(1_000_000)
  })
})
