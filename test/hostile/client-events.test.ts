/**
 * The browser layer's event stream (`GET /_tiercache/events?tags=...`) of the catalog app, attacked
 * over real sockets: too many tags, malformed tags, no tags, the wrong method, more streams than
 * allowed. Each is refused with a typed JSON error before anything is kept. The streams that are
 * accepted get only the tags they subscribed to, heartbeats, and a replay or a resync after a
 * reconnect.
 */
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { openPglite } from '../../src/db/pglite-database.js'
import type { Database } from '../../src/db/database.js'
import { createCatalogApp, seedCatalog } from '../../src/stack/catalog-app.js'
import { ControlledBus } from '../helpers/controlled-bus.js'
import { openEventStream } from '../helpers/event-stream.js'
import type { EventStream } from '../helpers/event-stream.js'

const LIMITS = { maxSubscribers: 3, maxTagsPerSubscriber: 4, heartbeatMs: 200 }

let db: Database
let bus: ControlledBus
let cache: TierCache
let app: Server
let base: string
const streams: EventStream[] = []

beforeAll(async () => {
  db = await openPglite()
  await seedCatalog(db, 10)
  bus = new ControlledBus()
  cache = createCache({ namespace: 'client-events', bus })
  app = createCatalogApp({ db, cache, eventStream: LIMITS })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
}, 120_000)

afterAll(async () => {
  for (const s of streams) s.close()
  await new Promise<void>((resolve) => { app?.close(() => resolve()); app?.closeAllConnections() })
  await cache?.close()
  await bus?.close()
  await db?.close()
})

function open(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<EventStream> {
  return openEventStream(base, path, { headers, method }).then((stream) => {
    streams.push(stream)
    return stream
  })
}

const events = (tags: string): string => `/_tiercache/events?tags=${tags}`

describe('event stream under hostile input', () => {
  it('refuses more tags than allowed with 413 and a typed error', async () => {
    const s = await open(events('a,b,c,d,e'))
    expect(s.status).toBe(413)
    expect(JSON.parse(s.body)).toMatchObject({ code: 'E_EVENTS_TOO_MANY_TAGS', field: 'tags', rule: 'at most 4 tags per stream' })
    // A huge list costs one bounded split: still a 413, not a slow answer or a crash.
    const huge = await open(events(Array.from({ length: 1500 }, (_, i) => `t${i}`).join(',')))
    expect(huge.status).toBe(413)
  })

  it('refuses malformed tags with 400 and a typed error', async () => {
    for (const bad of ['a%20b', 'a,,b', '%01x', 'x'.repeat(201), 'caf%C3%A9', 'a%0Aevent:%20invalidate']) {
      const s = await open(events(bad))
      expect(s.status, bad).toBe(400)
      expect(JSON.parse(s.body), bad).toMatchObject({ code: 'E_EVENTS_BAD_TAG', field: 'tags' })
    }
    const none = await open('/_tiercache/events')
    expect(none.status).toBe(400)
    expect(JSON.parse(none.body)).toMatchObject({ code: 'E_EVENTS_NO_TAGS' })
    // The path spelling (for proxies that drop query strings): percent-decoded per tag, checked the same.
    for (const bad of ['a%20b', '%ZZ', 'a%2', 'a,', '%E0%A4%A']) {
      const s = await open(`/_tiercache/events/${bad}`)
      expect(s.status, bad).toBe(400)
      expect(JSON.parse(s.body), bad).toMatchObject({ code: 'E_EVENTS_BAD_TAG' })
    }
    expect((await open('/_tiercache/events/a,b,c,d,e')).status).toBe(413)
    const post = await open(events('a'), {}, 'POST')
    expect(post.status).toBe(405)
    expect(JSON.parse(post.body)).toMatchObject({ code: 'E_EVENTS_METHOD' })
  })

  it('refuses a stream beyond the bound with 429 and Retry-After, and takes one again once a stream closes', async () => {
    const held = [await open(events('h1')), await open(events('h2')), await open(events('h3'))]
    for (const s of held) expect(s.status).toBe(200)
    const refused = await open(events('h4'))
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('5')
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'E_EVENTS_TOO_MANY_SUBSCRIBERS', field: 'subscribers' })
    held[0]!.close()
    // The server notices the closed socket on its own schedule: ask until it takes a new stream.
    let again: EventStream | undefined
    for (let i = 0; i < 300 && again === undefined; i++) {
      const s = await open(events('h5'))
      if (s.status === 200) again = s
      else await new Promise((r) => setTimeout(r, 50))
    }
    expect(again?.status).toBe(200)
    for (const s of [...held, again!]) s.close()
  })

  it('sends only the subscribed tags, with heartbeats, from the app\'s own invalidations', async () => {
    // The path spelling, as the browser client sends it (each tag percent-encoded).
    const s = await open(`/_tiercache/events/${encodeURIComponent('product:1')},promo`)
    expect(s.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    await s.next((f) => f.event === 'ready')
    await cache.invalidate({ tags: ['product:1', 'products', 'product:2'], version: 7 })
    const frame = await s.next((f) => f.event === 'invalidate')
    expect(JSON.parse(frame.data!)).toMatchObject({ v: 1, tags: ['product:1'], version: 7 })
    expect(frame.id).toMatch(/^[0-9a-f]{8}\.\d+$/)
    await s.next((f) => f.comment === 'heartbeat')
    s.close()
  })

  it('replays what a reconnecting stream missed after its Last-Event-ID, and resyncs an id it cannot place', async () => {
    const first = await open(events('product:3'))
    await first.next((f) => f.event === 'ready')
    await cache.invalidateTags(['product:3'])
    const seen = await first.next((f) => f.event === 'invalidate')
    first.close()
    await cache.invalidateTags(['product:3'])
    await cache.invalidateTags(['product:4'])
    await cache.invalidateTags(['product:3', 'product:4'])
    // Wait until the bus delivered all three (the stream hears them through the same bus).
    const watcher = await open(events('product:4'))
    await watcher.next((f) => f.event === 'ready')
    await cache.invalidateTags(['product:4'])
    await watcher.next((f) => f.event === 'invalidate')
    watcher.close()

    const back = await open(events('product:3'), { 'last-event-id': seen.id! })
    // Missed: product:3, then product:3 + product:4 (sent as product:3 only); product:4 alone is not for it.
    const replayed = [await back.next((f) => f.event === 'invalidate'), await back.next((f) => f.event === 'invalidate')]
    expect(replayed.map((f) => (JSON.parse(f.data!) as { tags: string[] }).tags)).toEqual([['product:3'], ['product:3']])
    const seq = (id: string | undefined): number => Number(id!.split('.')[1])
    expect(seq(replayed[0]!.id)).toBe(seq(seen.id) + 1)
    expect(seq(replayed[1]!.id)).toBe(seq(seen.id) + 3)
    back.close()

    const stranger = await open(events('product:3'), { 'last-event-id': 'deadbeef.12' })
    const resync = await stranger.next((f) => f.event === 'resync')
    expect(JSON.parse(resync.data!)).toEqual({ v: 1, reason: 'unknown-event-id' })
    stranger.close()
  })

  it('sends resync to every stream after a bus gap, and a replay cannot cross the gap', async () => {
    const s = await open(events('product:6'))
    await s.next((f) => f.event === 'ready')
    await cache.invalidateTags(['product:6'])
    const before = await s.next((f) => f.event === 'invalidate')
    bus.gap('stream trimmed')
    const resync = await s.next((f) => f.event === 'resync')
    expect(JSON.parse(resync.data!)).toEqual({ v: 1, reason: 'gap' })
    s.close()
    const back = await open(events('product:6'), { 'last-event-id': before.id! })
    expect(JSON.parse((await back.next((f) => f.event === 'resync')).data!)).toEqual({ v: 1, reason: 'missed' })
    back.close()
  })
})
