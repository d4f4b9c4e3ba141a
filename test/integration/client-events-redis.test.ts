import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { openPglite } from '../../src/db/pglite-database.js'
import type { Database } from '../../src/db/database.js'
import { createCatalogApp } from '../../src/stack/catalog-app.js'
import { openEventStream } from '../helpers/event-stream.js'
import type { EventStream } from '../helpers/event-stream.js'
import { freshNamespace } from '../helpers/namespace.js'

// The event stream of an app whose cache follows the Redis Streams bus: another node's
// invalidation (a second cache on the same namespace, as another app process would be) reaches
// the open stream, and so does this app's own.
let db: Database
let appCache: TierCache
let otherNode: TierCache
let app: Server
let base: string
const streams: EventStream[] = []

beforeAll(async () => {
  const namespace = freshNamespace('client-events')
  db = await openPglite()
  appCache = createCache({ namespace, l2: { redis: inject('redisUrl') } })
  otherNode = createCache({ namespace, l2: { redis: inject('redisUrl') } })
  await Promise.all([appCache.ready(), otherNode.ready()])
  app = createCatalogApp({ db, cache: appCache })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(app.address() as AddressInfo).port}`
}, 60_000)

afterAll(async () => {
  for (const s of streams) s.close()
  await new Promise<void>((resolve) => { app?.close(() => resolve()); app?.closeAllConnections() })
  await otherNode?.close()
  await appCache?.close()
  await db?.close()
})

describe('event stream over the Redis Streams bus', () => {
  it('carries another node\'s invalidations and the app\'s own, only the subscribed tags', async () => {
    expect(appCache.bus?.name).not.toBe('memory')
    const s = await openEventStream(base, '/_tiercache/events?tags=product:9,products')
    streams.push(s)
    expect(s.status).toBe(200)
    await s.next((f) => f.event === 'ready')
    await otherNode.invalidate({ tags: ['product:9', 'product:10'], version: 3 })
    const fromOther = await s.next((f) => f.event === 'invalidate')
    expect(JSON.parse(fromOther.data!)).toMatchObject({ v: 1, tags: ['product:9'], version: 3 })
    await appCache.invalidateTags(['products'])
    const own = await s.next((f) => f.event === 'invalidate')
    expect(JSON.parse(own.data!)).toMatchObject({ v: 1, tags: ['products'] })
  })
})
