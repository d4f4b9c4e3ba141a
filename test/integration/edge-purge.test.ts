import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryBus } from '../../src/bus/memory-bus.js'
import { ManualClock } from '../../src/core/manual-clock.js'
import { flushMicrotasks } from '../../src/core/manual-clock.js'
import type { BusListener, DeliveredMessage } from '../../src/ports/bus.js'
import { deferred, get, startEdge, startOrigin } from './edge-helpers.js'

const TOKEN = 'purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

/** An origin tagging responses: /items/N → item:N and list; /cat/... → cat. */
async function taggedOrigin() {
  const clock = new ManualClock(Date.now())
  const origin = await startOrigin((req, res, _b, n) => {
    const url = req.url ?? ''
    const item = /^\/items\/(\d+)/.exec(url)
    if (item !== null) res.setHeader('surrogate-key', `item:${item[1]} list`)
    else res.setHeader('cache-tag', 'cat, misc')
    res.setHeader('cache-control', 'max-age=600, stale-if-error=600')
    res.setHeader('etag', `"${url}"`)
    res.end(`${url} #${n}`)
  }, () => clock.now())
  closers.push(() => origin.close())
  return { origin, clock }
}

function purge(url: string, body: unknown, token = TOKEN) {
  return get(`${url}/.tiercache/purge`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

describe('edge: tags and the purge API', () => {
  it('purges by tag (Surrogate-Key and Cache-Tag), by URL and by prefix, hiding tags from clients', async () => {
    const { origin, clock } = await taggedOrigin()
    const { url, edge } = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN })
    closers.push(() => edge.close())
    const paths = ['/items/1', '/items/2', '/cat/a', '/cat/b', '/other/x']
    for (const p of paths) await get(`${url}${p}`)
    const hit = await get(`${url}/items/1`)
    expect(hit.headers.get('surrogate-key')).toBe(null)
    expect(hit.headers.get('cache-tag')).toBe(null)
    expect(origin.count()).toBe(5)

    expect((await purge(url, { tags: ['item:1'] })).text).toContain('"entries":1')
    await get(`${url}/items/1`)
    await get(`${url}/items/2`)
    expect(origin.count()).toBe(6)

    expect(JSON.parse((await purge(url, { tags: ['misc'] })).text)).toMatchObject({ ok: true, entries: 3 })
    expect(JSON.parse((await purge(url, { urls: ['/items/2'] })).text)).toMatchObject({ entries: 1 })
    expect(JSON.parse((await purge(url, { prefixes: ['/items/'] })).text)).toMatchObject({ entries: 1 })
    for (const p of paths) await get(`${url}${p}`)
    expect(origin.count()).toBe(6 + 5)
  })

  it('soft purge marks stale: the next request revalidates, and an origin failure still gets the old copy', async () => {
    let down = false
    const clock = new ManualClock(Date.now())
    const origin = await startOrigin((req, res) => {
      if (down) {
        res.statusCode = 502
        res.end()
        return
      }
      res.setHeader('surrogate-key', 'page')
      res.setHeader('cache-control', 'max-age=600, stale-if-error=600')
      res.setHeader('etag', '"p1"')
      if (req.headers['if-none-match'] === '"p1"') {
        res.statusCode = 304
        res.end()
        return
      }
      res.end('page v1')
    }, () => clock.now())
    closers.push(() => origin.close())
    const { url, edge } = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN })
    closers.push(() => edge.close())
    await get(`${url}/page`)
    await purge(url, { tags: ['page'], soft: true })
    const revalidated = await get(`${url}/page`)
    expect(revalidated.headers.get('x-cache')).toBe('REVALIDATED')
    expect(origin.seen[1]?.headers['if-none-match']).toBe('"p1"')
    await purge(url, { tags: ['page'], soft: true })
    down = true
    const stale = await get(`${url}/page`)
    expect(stale).toMatchObject({ status: 200, text: 'page v1' })
    expect(stale.headers.get('x-cache')).toBe('STALE')
    // A hard purge removes it: nothing left to serve.
    await purge(url, { tags: ['page'] })
    expect((await get(`${url}/page`)).status).toBe(502)
  })

  it('refuses purges without the right token (and all purges when none is configured), and bad bodies', async () => {
    const { origin, clock } = await taggedOrigin()
    const { url, edge } = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN })
    closers.push(() => edge.close())
    await get(`${url}/items/1`)
    for (const token of ['', 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const refused = await purge(url, { tags: ['item:1'] }, token)
      expect(refused.status, token).toBe(401)
      expect(refused.headers.get('www-authenticate')).toContain('Bearer')
    }
    const noHeader = await get(`${url}/.tiercache/purge`, { method: 'POST', body: '{"tags":["item:1"]}' })
    expect(noHeader.status).toBe(401)
    expect((await get(`${url}/.tiercache/purge`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405)
    expect((await purge(url, { tags: 'item:1' })).status).toBe(400)
    expect((await purge(url, {})).status).toBe(400)
    expect((await get(`${url}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{not json' })).status).toBe(400)
    expect(edge.stats().purgeRefused).toBe(5)
    await get(`${url}/items/1`)
    expect(origin.count()).toBe(1)

    const closed = await startEdge({ origin: origin.url, clock })
    closers.push(() => closed.edge.close())
    const disabled = await purge(closed.url, { tags: ['item:1'] })
    expect(disabled.status).toBe(401)
    expect(disabled.text).toContain('disabled')
  })
})

describe('edge: purges on the invalidation bus', () => {
  it('one purge call clears every edge sharing the bus, and publishes one message apps can follow', async () => {
    const { origin, clock } = await taggedOrigin()
    const bus = new MemoryBus()
    const seen: DeliveredMessage[] = []
    const unsubscribe = bus.subscribe({ onMessage: (m) => seen.push(m), onGap: () => {} })
    closers.push(async () => { unsubscribe(); await bus.close() })
    const a = await startEdge({ origin: origin.url, clock, bus, purgeToken: TOKEN, id: 'edge-a' })
    const b = await startEdge({ origin: origin.url, clock, bus, id: 'edge-b' })
    closers.push(() => a.edge.close(), () => b.edge.close())
    for (const u of [a.url, b.url]) {
      await get(`${u}/items/7`)
      await get(`${u}/cat/x`)
    }
    expect(origin.count()).toBe(4)
    expect(JSON.parse((await purge(a.url, { tags: ['item:7'] })).text)).toMatchObject({ entries: 1, published: true })
    await vi.waitFor(() => expect(b.edge.stats().purges).toBe(1))
    await get(`${b.url}/items/7`)
    await get(`${b.url}/cat/x`)
    expect(origin.count()).toBe(5)
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ tags: ['item:7'], soft: false, origin: 'edge-a' })
  })

  it('applies tag invalidations published by app caches, and marks everything stale on a gap', async () => {
    // A bus that lets the test speak for another node (an app cache) and report a gap.
    let listener: BusListener | undefined
    class TestBus extends MemoryBus {
      override subscribe(l: BusListener): () => void {
        listener = l
        return super.subscribe(l)
      }
    }
    const bus = new TestBus()
    closers.push(() => bus.close())
    const { origin, clock } = await taggedOrigin()
    const { url, edge } = await startEdge({ origin: origin.url, clock, bus })
    closers.push(() => edge.close())
    await get(`${url}/items/1`)
    await get(`${url}/items/2`)
    listener!.onMessage({ id: '1', tags: ['item:1'], origin: 'app-node-1', at: Date.now() })
    await flushMicrotasks()
    await get(`${url}/items/1`)
    await get(`${url}/items/2`)
    expect(origin.count()).toBe(3)
    listener!.onGap('stream trimmed past our cursor')
    const after = await get(`${url}/items/2`)
    // Revalidated (a conditional request), not served as fresh.
    expect(origin.count()).toBe(4)
    expect(origin.seen[3]?.headers['if-none-match']).toBe('"/items/2"')
    expect(after.text).toBe('/items/2 #4')
    expect(edge.stats().busGaps).toBe(1)
  })

  it('fences fills: a response fetched before a purge is served but not stored', async () => {
    const release = deferred()
    let hold = true
    const clock = new ManualClock(Date.now())
    const origin = await startOrigin(async (_req, res, _b, n) => {
      if (hold) await release.promise
      res.setHeader('surrogate-key', 'item:9')
      res.setHeader('cache-control', 'max-age=600')
      res.end(`v${n}`)
    }, () => clock.now())
    closers.push(() => origin.close())
    const { url, edge } = await startEdge({ origin: origin.url, clock, purgeToken: TOKEN })
    closers.push(() => edge.close())
    const inFlight = get(`${url}/items/9`)
    await vi.waitFor(() => expect(origin.count()).toBe(1))
    await clock.advance(1)
    await purge(url, { tags: ['item:9'] })
    hold = false
    release.resolve()
    expect((await inFlight).text).toBe('v1')
    expect(edge.stats().notStored['purged-while-fetching']).toBe(1)
    expect((await get(`${url}/items/9`)).text).toBe('v2')
    expect((await get(`${url}/items/9`)).text).toBe('v2')
    expect(origin.count()).toBe(2)
  })
})

// Every tier of a shield chain holds the same hop secret: that is what lets tags flow to the edges.
const HOP_SECRET = 'shield-hop-secret-0123456789'

describe('edge: origin shield (edge -> shield -> origin)', () => {
  it('lets edges share one shield: the shield sees the first hop, the origin sees one request, tags flow through', async () => {
    const { origin, clock } = await taggedOrigin()
    const bus = new MemoryBus()
    closers.push(() => bus.close())
    const shield = await startEdge({ origin: origin.url, clock, bus, id: 'shield-1', hopSecret: HOP_SECRET })
    closers.push(() => shield.edge.close())
    const hops: string[] = []
    shield.edge.server.prependListener('request', (req) => { hops.push(String(req.headers['x-tiercache-hop'])) })
    const e1 = await startEdge({ origin: shield.url, clock, bus, id: 'edge-eu', purgeToken: TOKEN, hopSecret: HOP_SECRET })
    const e2 = await startEdge({ origin: shield.url, clock, bus, id: 'edge-us', hopSecret: HOP_SECRET })
    closers.push(() => e1.edge.close(), () => e2.edge.close())
    expect((await get(`${e1.url}/items/3`)).text).toBe('/items/3 #1')
    const second = await get(`${e2.url}/items/3`)
    expect(second.text).toBe('/items/3 #1')
    expect(Number(second.headers.get('age'))).toBeGreaterThanOrEqual(0)
    expect(hops).toEqual(['edge-eu', 'edge-us'])
    expect(origin.count()).toBe(1)
    expect(origin.seen[0]?.headers['x-tiercache-hop']).toBe('edge-eu, shield-1')
    expect(origin.seen[0]?.headers.via).toBe('1.1 tiercache, 1.1 tiercache')
    // The edges learnt the tags from the shield: one purge on the bus clears all three tiers.
    await purge(e1.url, { tags: ['item:3'] })
    await vi.waitFor(() => expect(e2.edge.stats().purges + shield.edge.stats().purges).toBe(2))
    expect((await get(`${e2.url}/items/3`)).text).toBe('/items/3 #2')
    expect(origin.count()).toBe(2)
  })

  it('does not store a shield response older than a purge the edge already applied', async () => {
    const { origin, clock } = await taggedOrigin()
    // The shield is on no bus: it keeps serving its copy after the edge purged.
    const shield = await startEdge({ origin: origin.url, clock, id: 'lagging-shield', hopSecret: HOP_SECRET })
    closers.push(() => shield.edge.close())
    const edge = await startEdge({ origin: shield.url, clock, id: 'edge-1', purgeToken: TOKEN, hopSecret: HOP_SECRET })
    closers.push(() => edge.edge.close())
    await get(`${edge.url}/items/5`)
    await clock.advance(5_000)
    await purge(edge.url, { tags: ['item:5'] })
    const fromShield = await get(`${edge.url}/items/5`)
    expect(fromShield.text).toBe('/items/5 #1')
    expect(Number(fromShield.headers.get('age'))).toBeGreaterThanOrEqual(5)
    expect(edge.edge.stats().notStored['purged-while-fetching']).toBe(1)
  })

  it('refuses a forwarding loop', async () => {
    const { origin, clock } = await taggedOrigin()
    const { url, edge } = await startEdge({ origin: origin.url, clock, id: 'loopy' })
    closers.push(() => edge.close())
    const looped = await get(`${url}/x`, { headers: { 'x-tiercache-hop': 'other, loopy' } })
    expect(looped.status).toBe(508)
    expect(origin.count()).toBe(0)
  })
})
