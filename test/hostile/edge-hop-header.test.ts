import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import { get, rawRequest, startEdge, startOrigin } from '../integration/edge-helpers.js'

// X-Tiercache-Hop marks a request from another tiercache edge, which gets the surrogate keys,
// Cache-Tag and Surrogate-Control of responses (they name internal ids). A client must not get
// them by sending the header; a shield chain configured with the shared hop secret must.

const TOKEN = 'purge-token-0123456789'
const SECRET = 'hop-secret-0123456789abcdef'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function taggedOrigin(clock: ManualClock) {
  const origin = await startOrigin((_req, res, _b, n) => {
    res.setHeader('cache-control', 'max-age=600')
    res.setHeader('surrogate-key', 'item:42 user:7')
    res.setHeader('cache-tag', 'item:42,internal-id-99')
    res.setHeader('surrogate-control', 'max-age=600')
    res.end(`body ${n}`)
  }, () => clock.now())
  closers.push(() => origin.close())
  return origin
}

function internalFields(headers: Headers): (string | null)[] {
  return ['surrogate-key', 'cache-tag', 'surrogate-control'].map((h) => headers.get(h))
}

describe('edge: X-Tiercache-Hop from clients', () => {
  it('gives a client that sends the hop header no tags, on a miss, a hit, a collapsed request and a pass', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await taggedOrigin(clock)
    const { url, edge } = await startEdge({ origin: origin.url, clock, hopSecret: SECRET, id: 'edge-x' })
    closers.push(() => edge.close())
    const hop = { 'x-tiercache-hop': 'attacker' }
    const miss = await get(`${url}/p`, { headers: hop })
    const hit = await get(`${url}/p`, { headers: hop })
    const pass = await get(`${url}/p`, { method: 'POST', headers: hop, body: 'x' })
    const wrongSecret = await get(`${url}/q`, { headers: { ...hop, 'x-tiercache-hop-auth': 'not-the-secret' } })
    expect(hit.headers.get('x-cache')).toBe('HIT')
    for (const r of [miss, hit, pass, wrongSecret]) expect(internalFields(r.headers)).toEqual([null, null, null])
    // The client's value never reaches the origin: the edge sends its own id as the first hop.
    for (const seen of origin.seen) expect(seen.headers['x-tiercache-hop']).toBe('edge-x')
  })

  it('does the same on a raw socket with the header twice', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await taggedOrigin(clock)
    const { url, edge } = await startEdge({ origin: origin.url, clock })
    closers.push(() => edge.close())
    const answer = await rawRequest(url, 'GET /r HTTP/1.1\r\nHost: e\r\nX-Tiercache-Hop: a\r\nX-Tiercache-Hop: b\r\nConnection: close\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 200/)
    expect(answer.toLowerCase()).not.toMatch(/surrogate-key|cache-tag|surrogate-control/)
  })
})

describe('edge: origin shield chain with a hop secret', () => {
  it('passes tags from the shield to the edge in front, so a purge by tag works at both tiers', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await taggedOrigin(clock)
    const shield = await startEdge({ origin: origin.url, clock, hopSecret: SECRET, purgeToken: TOKEN, id: 'shield' })
    closers.push(() => shield.edge.close())
    const front = await startEdge({ origin: shield.url, clock, hopSecret: SECRET, purgeToken: TOKEN, id: 'front' })
    closers.push(() => front.edge.close())
    const first = await get(`${front.url}/item/42`)
    expect(first.text).toBe('body 1')
    expect(internalFields(first.headers)).toEqual([null, null, null])
    expect((await get(`${front.url}/item/42`)).headers.get('x-cache')).toBe('HIT')
    // The front edge learnt the tags from the shield: a tag purge there removes its copy.
    const purged = await get(`${front.url}/.tiercache/purge`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: ['internal-id-99'] }),
    })
    expect(JSON.parse(purged.text)).toMatchObject({ entries: 1 })
    expect((await get(`${front.url}/item/42`)).headers.get('x-cache')).toBe('MISS')
    expect(shield.edge.stats().hits).toBe(1)
    expect(origin.count()).toBe(1)
  })

  it('treats an edge in front without the secret as a client: no tags reach it', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await taggedOrigin(clock)
    const shield = await startEdge({ origin: origin.url, clock, hopSecret: SECRET, id: 'shield' })
    closers.push(() => shield.edge.close())
    const front = await startEdge({ origin: shield.url, clock, purgeToken: TOKEN, hopSecret: 'another-secret-0123456789', id: 'front' })
    closers.push(() => front.edge.close())
    await get(`${front.url}/item/42`)
    const purged = await get(`${front.url}/.tiercache/purge`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ tags: ['item:42'] }),
    })
    expect(JSON.parse(purged.text)).toMatchObject({ entries: 0 })
    expect(front.edge.stats().purgedEntries).toBe(0)
  })

  it('still answers 508 to a forwarding loop', async () => {
    const clock = new ManualClock(Date.now())
    const origin = await taggedOrigin(clock)
    const a = await startEdge({ origin: origin.url, clock, hopSecret: SECRET, id: 'loop-a' })
    closers.push(() => a.edge.close())
    // An edge whose origin is itself: its own id comes back in the authenticated hop list.
    const self = await startEdge({ origin: a.url, clock, hopSecret: SECRET, id: 'loop-a' })
    closers.push(() => self.edge.close())
    expect((await get(`${self.url}/x`)).status).toBe(508)
  })
})
