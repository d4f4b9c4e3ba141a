/**
 * Change capture in logical-replication mode, end to end, against a private PostgreSQL started
 * with `wal_level=logical` from the machine's binaries: a change made in plain SQL leaves every
 * layer (two caches' L1, Redis L2, an edge); a rolled-back transaction publishes nothing; one
 * transaction of 100 rows invalidates all 100; a second invalidator waits for the slot and takes
 * over, when the first is closed and when its process is killed -9. And on a server without
 * `wal_level=logical`, a clear error at start.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cacheSink } from '../../src/capture/cache-sink.js'
import { startLogicalCapture } from '../../src/capture/logical-capture.js'
import { parseCaptureMapping } from '../../src/capture/mapping.js'
import type { Database } from '../../src/db/database.js'
import { openPostgres } from '../../src/db/pg-database.js'
import { createEdge } from '../../src/edge/index.js'
import { createCache } from '../../src/index.js'
import type { TierCache } from '../../src/index.js'
import type { ChangeCapture } from '../../src/ports/capture.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { CATALOG_MAPPING, createCatalogApp, readProduct, seedCatalog } from '../../src/stack/catalog-app.js'
import type { Product } from '../../src/stack/catalog-app.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'
import { startPrivatePostgres } from '../services/services.js'
import type { Started } from '../services/services.js'

const quiet = { warn: () => {}, error: () => {} }
const mapping = parseCaptureMapping(CATALOG_MAPPING)

let server: Started
let db: Database
let a: TierCache
let b: TierCache
let l2: TierCache
let sinkCache: TierCache
let edgeUrl: string
let capture: ChangeCapture
const closers: (() => Promise<unknown>)[] = []

const start = (): Promise<ChangeCapture> => startLogicalCapture({ databaseUrl: server.url, mapping, sink: cacheSink(sinkCache), logger: quiet, retryInterval: 200 })

beforeAll(async () => {
  server = await startPrivatePostgres({ what: 'the private PostgreSQL server with wal_level=logical that the logical-replication tests start (whatever DATABASE_URL says)' })
  closers.push(() => server.stop())
  db = await openPostgres(server.url)
  closers.push(() => db.close())
  await seedCatalog(db, 300)
  const namespace = freshNamespace('cdc-logical')
  const cache = (l1: boolean): TierCache => {
    const c = createCache({ namespace, logger: quiet, l2: { redis: inject('redisUrl') }, ...(l1 ? {} : { l1: false }) })
    closers.push(() => c.close())
    return c
  }
  a = cache(true)
  b = cache(true)
  l2 = cache(false)
  sinkCache = cache(false)
  const app: Server = createCatalogApp({ db, cache: a, logger: quiet })
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => { app.close(resolve); app.closeAllConnections() }))
  const bus = new RedisStreamBus({ redis: inject('redisUrl'), namespace })
  closers.push(() => bus.close())
  bus.subscribe({ onMessage: () => {}, onGap: () => {} })
  await bus.ready()
  const edge = createEdge({ origin: `http://127.0.0.1:${(app.address() as AddressInfo).port}`, bus, logger: quiet })
  closers.push(() => edge.close())
  edgeUrl = await edge.listen(0, '127.0.0.1')
  // Following the bus before filling: its first sync flushes what L1 took in before it.
  await Promise.all([a.ready(), b.ready(), l2.ready(), sinkCache.ready()])
  capture = await start()
  await until(() => capture.stats().active, 'the invalidator streaming the slot', 30_000)
}, 120_000)

afterAll(async () => {
  await capture?.close()
  for (const close of closers.reverse()) await close().catch(() => {})
})

async function write(sql: string): Promise<bigint> {
  const { rows } = await db.query<{ xid: string }>(sql)
  return BigInt(rows[0]!.xid)
}

async function status(id: number): Promise<{ status: number; body: Partial<Product>; cache: string | null }> {
  const res = await fetch(`${edgeUrl}/api/products/${id}`)
  return { status: res.status, cache: res.headers.get('x-cache'), body: await res.json() as Partial<Product> }
}

describe('change capture, logical-replication mode (pgoutput)', () => {
  it('UPDATE, DELETE and INSERT in plain SQL leave every layer: both L1s, L2 and the edge', async () => {
    for (const id of [1, 2]) {
      await status(id)
      expect((await status(id)).cache).toBe('HIT')
      await readProduct(b, db, id)
    }
    expect((await status(250_000)).status).toBe(404)
    expect((await status(250_000)).cache).toBe('HIT')
    await until(() => [1, 2].every((id) => a.peek(`product:${id}`) !== undefined && b.peek(`product:${id}`) !== undefined), 'both L1s filled')
    await capture.waitFor(await write('update products set price_cents = 4242, version = version + 1 where id = 1 returning pg_current_xact_id()::text as xid'))
    await capture.waitFor(await write('delete from products where id = 2 returning pg_current_xact_id()::text as xid'))
    await capture.waitFor(await write(`insert into products (id, name, price_cents, stock) values (250000, 'New', 1, 1) returning pg_current_xact_id()::text as xid`))
    expect(await l2.get('product:1')).toBeUndefined()
    expect(await l2.get('product:2')).toBeUndefined()
    await until(() => [1, 2].every((id) => a.peek(`product:${id}`) === undefined && b.peek(`product:${id}`) === undefined), 'both L1s dropped the keys')
    await until(async () => (await status(1)).body.price_cents === 4242, 'the edge serving the update')
    await until(async () => (await status(2)).status === 404, 'the edge serving the delete')
    await until(async () => (await status(250_000)).status === 200, 'the edge serving the insert')
  })

  it('a rolled-back transaction publishes nothing; one transaction of 100 rows invalidates all 100', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => 100 + i)
    for (const id of [...ids, 50]) await readProduct(a, db, id)
    await until(() => [...ids, 50].every((id) => a.peek(`product:${id}`) !== undefined), 'L1 holding the rows')
    const messages = capture.stats().messages
    await db.exec('begin; update products set stock = 1 where id = 50; rollback')
    await capture.waitFor(await write('update products set stock = stock + 1 where id >= 100 and id < 200 returning pg_current_xact_id()::text as xid'))
    expect((await Promise.all(ids.map((id) => l2.get(`product:${id}`)))).filter((v) => v !== undefined)).toEqual([])
    await until(() => ids.every((id) => a.peek(`product:${id}`) === undefined), 'L1 dropped all 100 keys')
    // The server streams transactions in commit order: the rolled-back one would have come first.
    expect(a.peek('product:50')).toMatchObject({ id: 50 })
    expect(capture.stats().messages).toBe(messages + 1)
  })

  it('a second invalidator waits for the slot and takes over when the first stops', async () => {
    const standby = await start()
    try {
      await until(() => standby.stats().steps >= 2, 'the standby trying the slot twice')
      expect([capture.stats().active, standby.stats().active]).toEqual([true, false])
      await capture.close()
      await until(() => standby.stats().active, 'the standby streaming the slot', 30_000)
      await readProduct(a, db, 60)
      await until(() => a.peek('product:60') !== undefined, 'L1 holding the row')
      await standby.waitFor(await write('update products set stock = 6 where id = 60 returning pg_current_xact_id()::text as xid'))
      await until(() => a.peek('product:60') === undefined, 'the change reaching L1')
    } finally {
      capture = standby
    }
  }, 60_000)

  it('two invalidator processes on one slot: one streams; after it is killed -9 the other takes over and publishes what was committed meanwhile', async () => {
    const namespace = freshNamespace('cdc-logical-kill')
    const cache = createCache({ namespace, logger: quiet, l2: { redis: inject('redisUrl') } })
    const children: ChildProcess[] = []
    try {
      await cache.ready()
      const states = new Map<number, { active: boolean; steps: number }>()
      const startChild = (): ChildProcess => {
        // A slot of their own: the invalidator of the other tests keeps the default one.
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/cdc-invalidator.ts', server.url, inject('redisUrl'), namespace,
          'logical', 'tiercache_cdc_kill_slot'], { stdio: ['ignore', 'pipe', 'inherit'] })
        children.push(child)
        createInterface({ input: child.stdout }).on('line', (line) => {
          const state = JSON.parse(line) as { pid: number; active: boolean; steps: number }
          states.set(state.pid, state)
        })
        return child
      }
      const [one, two] = [startChild(), startChild()]
      await until(() => [...states.values()].some((s) => s.active), 'one invalidator streaming the slot', 60_000)
      const [active, standby] = states.get(one.pid!)?.active === true ? [one, two] : [two, one]
      // The other was refused the slot at least once: it tried again after its first attempt.
      await until(() => (states.get(standby.pid!)?.steps ?? 0) >= 2, 'the standby trying the slot twice', 60_000)
      expect([states.get(active.pid!)?.active, states.get(standby.pid!)?.active]).toEqual([true, false])
      // The active one works: a change reaches this node.
      await readProduct(cache, db, 70)
      await until(() => cache.peek('product:70') !== undefined, 'L1 holding the row')
      await write('update products set stock = 70 where id = 70 returning pg_current_xact_id()::text as xid')
      await until(() => cache.peek('product:70') === undefined, 'the first invalidator publishing')
      active.kill('SIGKILL')
      // Committed while the slot's consumer is dead: the slot keeps it for the next one.
      await readProduct(cache, db, 71)
      await until(() => cache.peek('product:71') !== undefined, 'L1 holding the row')
      await write('update products set stock = 71 where id = 71 returning pg_current_xact_id()::text as xid')
      await until(() => states.get(standby.pid!)?.active === true, 'the standby streaming the slot', 60_000)
      await until(() => cache.peek('product:71') === undefined, 'the second invalidator publishing the change made while none streamed', 30_000)
    } finally {
      for (const c of children) c.kill('SIGKILL')
      await cache.close()
    }
  }, 120_000)

  it('on a server without wal_level=logical: E_CDC_SCHEMA at start, naming the setting', async () => {
    const replica = await startPrivatePostgres({ what: 'a private PostgreSQL server with wal_level=replica', settings: ['wal_level=replica'] })
    try {
      const error = await startLogicalCapture({ databaseUrl: replica.url, mapping, sink: cacheSink(sinkCache) }).then(() => undefined, (e: unknown) => e)
      expect(error).toMatchObject({ code: 'E_CDC_SCHEMA', message: expect.stringContaining('needs wal_level=logical on the server (it is replica)') as unknown })
    } finally {
      await replica.stop()
    }
  }, 60_000)
})
