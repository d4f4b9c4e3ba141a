import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import type { AccessLogEntry, EdgeOptions } from '../../src/edge/index.js'
import { deferred, get, rawRequest, startEdge, startOrigin } from '../integration/edge-helpers.js'

const TOKEN = 'purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function setup(options: Partial<Omit<EdgeOptions, 'clock'>> = {}) {
  const clock = new ManualClock(Date.now())
  const release = deferred()
  const origin = await startOrigin(async (req, res) => {
    if (req.url === '/slow') await release.promise
    if (req.url === '/broken') {
      res.statusCode = 500
      res.end('no')
      return
    }
    res.setHeader('cache-control', req.method === 'GET' ? 'max-age=600' : 'no-store')
    res.end(`${req.url}`)
  }, () => clock.now())
  closers.push(() => origin.close())
  const started = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN, admin: { port: 0 }, ...options })
  closers.push(() => started.edge.close())
  return { origin, release, ...started }
}

/** Known traffic: 1 miss, 2 hits, 1 leader + 2 collapsed, 1 pass, 1 origin 500 (a miss), 1 refused method (403), 1 request with two Host lines (400). */
async function traffic(url: string, release: { resolve: () => void }, waitCollapsed: () => Promise<void>) {
  await get(`${url}/a?token=s3cret&page=2`)
  await get(`${url}/a`)
  await get(`${url}/a`)
  const slow = [get(`${url}/slow`), get(`${url}/slow`), get(`${url}/slow`)]
  await waitCollapsed()
  release.resolve()
  await Promise.all(slow)
  await get(`${url}/b`, { method: 'POST', body: 'x' })
  await get(`${url}/broken`)
  await get(`${url}/api/x`, { method: 'DELETE' })
  await rawRequest(url, 'GET /bad HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n')
  return 10
}

describe('edge access log', () => {
  it('writes one entry per request, with no query string values', async () => {
    const entries: AccessLogEntry[] = []
    const { url, edge, release } = await setup({ accessLog: (entry) => { entries.push(entry) } })
    const sent = await traffic(url, release, () => vi.waitFor(() => expect(edge.stats().collapsed).toBe(2)))
    await vi.waitFor(() => expect(entries).toHaveLength(sent))
    const first = entries.find((e) => e.path.startsWith('/a?'))!
    expect(first).toMatchObject({ method: 'GET', status: 200, cache: 'MISS', bytes: 2 })
    expect(first.path).toBe('/a?token&page')
    expect(JSON.stringify(entries)).not.toContain('s3cret')
    expect(typeof first.durationMs).toBe('number')
    expect(entries.map((e) => e.cache).sort()).toEqual(
      ['COLLAPSED', 'COLLAPSED', 'HIT', 'HIT', 'MISS', 'MISS', 'MISS', 'PASS', 'REJECTED', 'REJECTED'].sort())
  })

  it('goes through logger.info when accessLog is true', async () => {
    const lines: [Record<string, unknown>, string][] = []
    const logger = { warn: () => {}, error: () => {}, info: (context: Record<string, unknown>, message: string) => { lines.push([context, message]) } }
    const { url } = await setup({ accessLog: true, logger })
    await get(`${url}/x`)
    await vi.waitFor(() => expect(lines).toHaveLength(1))
    expect(lines[0]![0]).toMatchObject({ method: 'GET', path: '/x', status: 200, cache: 'MISS' })
  })
})

describe('edge metrics count each request once', () => {
  it('sums requests and origin requests to what was sent', async () => {
    const { url, edge, release, origin } = await setup()
    const sent = await traffic(url, release, () => vi.waitFor(() => expect(edge.stats().collapsed).toBe(2)))
    const text = (await get(`${edge.adminUrl}/.tiercache/metrics`)).text
    const sum = (name: string): number => [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0)
    expect(sum('tiercache_edge_requests_total')).toBe(sent)
    expect(sum('tiercache_edge_origin_requests_total')).toBe(origin.count())
    expect(text).toMatch(/^tiercache_edge_requests_total\{result="collapsed"\} 2$/m)
    expect(text).not.toContain('outcome="sent"')
  })
})
