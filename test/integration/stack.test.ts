/**
 * The stack on one machine (what `npm start` runs): embedded PGlite, the catalog app with tiercache,
 * the edge in front. A write commits, invalidates, and the edge's copy goes with it.
 */
import { afterEach, describe, expect, inject, it } from 'vitest'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'

let stack: Stack | undefined
afterEach(async () => {
  await stack?.close()
  stack = undefined
})

async function get(url: string): Promise<{ status: number; cache: string | null; body: { version?: number; price_cents?: number } }> {
  const res = await fetch(url)
  return { status: res.status, cache: res.headers.get('x-cache'), body: await res.json() as { version?: number } }
}

async function exercise(s: Stack): Promise<void> {
  const first = await get(`${s.edgeUrl}/api/products/7`)
  expect(first).toMatchObject({ status: 200, cache: 'MISS', body: { version: 1 } })
  expect((await get(`${s.edgeUrl}/api/products/7`)).cache).toBe('HIT')
  const put = await fetch(`${s.appUrl}/api/products/7`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ price_cents: 4242 }) })
  expect(await put.json()).toMatchObject({ version: 2, price_cents: 4242 })
  // The invalidation reached the edge (bus, tag product:7): the next read goes to the origin.
  let after = await get(`${s.edgeUrl}/api/products/7`)
  for (let i = 0; i < 50 && after.body.version !== 2; i++) {
    await new Promise((r) => setTimeout(r, 20))
    after = await get(`${s.edgeUrl}/api/products/7`)
  }
  expect(after.body).toMatchObject({ version: 2, price_cents: 4242 })
  expect((await get(`${s.edgeUrl}/api/products/999999`)).status).toBe(404)
  const bad = await fetch(`${s.appUrl}/api/products/7`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{not json' })
  expect(bad.status).toBe(400)

  // The other direction: a purge by tag on the edge's API reaches the app's L1 through the bus.
  await get(`${s.appUrl}/api/products/8`)
  // (The answer leaves before the fill is written: with Redis, L1 is written once L2 took it.)
  for (let i = 0; i < 100 && s.cache.peek('product:8') === undefined; i++) await new Promise((r) => setTimeout(r, 10))
  expect(s.cache.peek('product:8')).toMatchObject({ id: 8 })
  const refused = await fetch(`${s.edgeUrl}/.tiercache/purge`, { method: 'POST', body: JSON.stringify({ tags: ['product:8'] }) })
  expect(refused.status).toBe(401)
  expect(s.cache.peek('product:8')).toMatchObject({ id: 8 })
  const purge = await fetch(`${s.edgeUrl}/.tiercache/purge`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.purgeToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tags: ['product:8'] }),
  })
  expect(purge.status).toBe(200)
  for (let i = 0; i < 100 && s.cache.peek('product:8') !== undefined; i++) await new Promise((r) => setTimeout(r, 10))
  expect(s.cache.peek('product:8')).toBeUndefined()
}

describe('the stack', () => {
  it('runs on embedded defaults (PGlite, L1 and an in-process bus): no services', async () => {
    stack = await startStack({ port: 0, appPort: 0, products: 50, logger: { warn: () => {}, error: () => {} } })
    expect(stack.db.kind).toBe('pglite')
    await exercise(stack)
    // Metrics live on the edge's loopback admin listener; the public port refuses them without the token.
    expect((await fetch(`${stack.edgeAdminUrl}/.tiercache/metrics`)).status).toBe(200)
    expect((await fetch(`${stack.edgeUrl}/.tiercache/metrics`)).status).toBe(401)
    expect(stack.cache.stats().loader.calls).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it('runs on PostgreSQL and Redis (L2 + the Streams bus between app and edge)', async () => {
    stack = await startStack({ port: 0, appPort: 0, products: 50, databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl'),
      logger: { warn: () => {}, error: () => {} } })
    expect(stack.db.kind).toBe('postgres')
    // (A write from outside the app: capture invalidates it too; wait for that before reading.)
    const { rows } = await stack.db.query<{ xid: string }>('update products set version = 1, price_cents = 100 where id = 7 returning pg_current_xact_id()::text as xid')
    await stack.capture.waitFor(BigInt(rows[0]!.xid))
    await stack.cache.delete('product:7')
    await stack.edge.purge({ tags: ['product:7'] })
    await exercise(stack)
    expect(stack.cache.stats().coherence.bus).toBe('redis-stream')
  }, 60_000)
})
