/**
 * Change capture, outbox mode, end to end, against both databases (the PostgreSQL server and the
 * embedded PGlite run the same tests): a change made in plain SQL, outside the app, disappears
 * from every layer (two app caches' L1, Redis L2, an edge in front); an outage loses nothing; a
 * rolled-back transaction invalidates nothing; one transaction of 100 rows invalidates all 100;
 * one invalidator works at a time and another takes over when it dies.
 *
 * Every wait is for a signal (capture's `waitFor`, a bus delivery, a process's state line).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cacheSink } from '../../src/capture/cache-sink.js'
import { parseCaptureMapping } from '../../src/capture/mapping.js'
import { startOutboxCapture } from '../../src/capture/outbox-capture.js'
import { installOutbox } from '../../src/capture/outbox-schema.js'
import type { Database } from '../../src/db/database.js'
import { openPostgres } from '../../src/db/pg-database.js'
import { openPglite } from '../../src/db/pglite-database.js'
import { createEdge } from '../../src/edge/index.js'
import type { Edge } from '../../src/edge/index.js'
import { createCache } from '../../src/index.js'
import type { TierCache } from '../../src/index.js'
import type { ChangeCapture } from '../../src/ports/capture.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { CATALOG_MAPPING, createCatalogApp, readProduct, seedCatalog } from '../../src/stack/catalog-app.js'
import type { Product } from '../../src/stack/catalog-app.js'
import { freshNamespace } from '../helpers/namespace.js'
import { freshSchema as freshSchemaOn } from '../helpers/pg-schema.js'
import { until } from '../helpers/until.js'

const quiet = { warn: () => {}, error: () => {} }
const mapping = parseCaptureMapping(CATALOG_MAPPING)

function freshSchema(): ReturnType<typeof freshSchemaOn> {
  return freshSchemaOn(inject('databaseUrl'))
}

interface World {
  db: Database
  namespace: string
  /** Two app nodes, each with its own L1 (and the shared Redis L2), each serving the catalog. */
  a: TierCache
  b: TierCache
  /** Reads L2 only. */
  l2: TierCache
  appA: string
  appB: string
  /** The edge, in front of app A. */
  edge: string
  capture: ChangeCapture
  startCapture(): Promise<ChangeCapture>
  close(): Promise<void>
}

async function createWorld(kind: 'postgres' | 'pglite'): Promise<World> {
  const closers: (() => Promise<unknown>)[] = []
  let url: string | undefined
  if (kind === 'postgres') {
    const schema = await freshSchema()
    closers.push(() => schema.drop())
    url = schema.url
  }
  const db = kind === 'postgres' ? await openPostgres(url!) : await openPglite()
  closers.push(() => db.close())
  await seedCatalog(db, 600)
  await installOutbox(db, mapping)
  const redis = inject('redisUrl')
  const namespace = freshNamespace('cdc')
  const cache = (l1: boolean): TierCache => {
    const c = createCache({ namespace, logger: quiet, l2: { redis }, ...(l1 ? {} : { l1: false }) })
    closers.push(() => c.close())
    return c
  }
  const a = cache(true)
  const b = cache(true)
  const l2 = cache(false)
  const sinkCache = cache(false)
  const serve = async (server: Server): Promise<string> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise((resolve) => { server.close(resolve); server.closeAllConnections() }))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
  const appA = await serve(createCatalogApp({ db, cache: a, logger: quiet }))
  const appB = await serve(createCatalogApp({ db, cache: b, logger: quiet }))
  const bus = new RedisStreamBus({ redis, namespace })
  closers.push(() => bus.close())
  bus.subscribe({ onMessage: () => {}, onGap: () => {} })
  await bus.ready()
  const edge: Edge = createEdge({ origin: appA, bus, logger: quiet })
  closers.push(() => edge.close())
  const edgeUrl = await edge.listen(0, '127.0.0.1')
  await Promise.all([a.ready(), b.ready(), l2.ready(), sinkCache.ready()])
  const startCapture = (): Promise<ChangeCapture> => startOutboxCapture({ db, mapping, sink: cacheSink(sinkCache), logger: quiet })
  const world: World = {
    db, namespace, a, b, l2, appA, appB, edge: edgeUrl, capture: await startCapture(), startCapture,
    async close() {
      await world.capture.close()
      for (const close of closers.reverse()) await close().catch(() => {})
    },
  }
  return world
}

async function get(url: string): Promise<{ status: number; cache: string | null; body: Partial<Product> }> {
  const res = await fetch(url)
  return { status: res.status, cache: res.headers.get('x-cache'), body: await res.json() as Partial<Product> }
}

/** Runs one statement and answers its transaction id (the statement must end with `returning pg_current_xact_id()::text as xid`). */
async function write(db: Database, sql: string): Promise<bigint> {
  const { rows } = await db.query<{ xid: string }>(sql)
  return BigInt(rows[0]!.xid)
}

describe.each(['postgres', 'pglite'] as const)('change capture, outbox mode, on %s', (kind) => {
  let w: World
  beforeAll(async () => { w = await createWorld(kind) }, 120_000)
  afterAll(async () => { await w?.close() })

  /** Caches product `id` in every layer: the edge (a HIT the second time), both apps' L1 and L2. */
  async function cacheEverywhere(id: number): Promise<void> {
    expect((await get(`${w.edge}/api/products/${id}`)).status).toBe(200)
    expect((await get(`${w.edge}/api/products/${id}`)).cache).toBe('HIT')
    await get(`${w.appB}/api/products/${id}`)
    await until(() => w.a.peek(`product:${id}`) !== undefined && w.b.peek(`product:${id}`) !== undefined, 'both L1s filled')
    expect(await w.l2.get(`product:${id}`)).toMatchObject({ id })
  }

  /** Waits until no layer serves product `id` from before the change. */
  async function goneEverywhere(id: number, fresh: (answer: { status: number; body: Partial<Product> }) => boolean): Promise<void> {
    expect(await w.l2.get(`product:${id}`)).toBeUndefined() // confirmed before waitFor resolved
    await until(() => w.a.peek(`product:${id}`) === undefined && w.b.peek(`product:${id}`) === undefined, 'both L1s dropped the key')
    await until(async () => fresh(await get(`${w.edge}/api/products/${id}`)), 'the edge serving the new row')
    expect(fresh(await get(`${w.appA}/api/products/${id}`))).toBe(true)
    expect(fresh(await get(`${w.appB}/api/products/${id}`))).toBe(true)
  }

  it.each([
    [{ tables: { nosuch: { key: 'x:{id}' } } }, 'tables.nosuch: no table nosuch'],
    [{ tables: { products: { key: 'product:{sku}' } } }, 'tables.products: no column sku in products'],
    [{ tables: { products: { key: 'product:{id}', version: 'revision' } } }, 'no column revision'],
    [{ tables: { products: { key: 'product:{name}' } } }, 'must name every primary-key column (missing {id})'],
    [{ outbox: 'never_installed', tables: { products: { key: 'product:{id}' } } }, 'not installed'],
  ])('a mapping that does not match the database is refused at start with E_CDC_SCHEMA: %j', async (input, message) => {
    const error = await startOutboxCapture({ db: w.db, mapping: parseCaptureMapping(input), sink: { invalidate: () => Promise.resolve(true) } })
      .then(() => undefined, (e: unknown) => e)
    expect(error).toMatchObject({ code: 'E_CDC_SCHEMA', message: expect.stringContaining(message) as unknown })
  })

  it('an UPDATE in plain SQL leaves no layer serving the old row', async () => {
    await cacheEverywhere(1)
    const xid = await write(w.db, 'update products set price_cents = 4242, version = version + 1 where id = 1 returning pg_current_xact_id()::text as xid')
    await w.capture.waitFor(xid)
    await goneEverywhere(1, (r) => r.status === 200 && r.body.price_cents === 4242 && r.body.version === 2)
  })

  it('a DELETE in plain SQL: every layer answers 404', async () => {
    await cacheEverywhere(2)
    await w.capture.waitFor(await write(w.db, 'delete from products where id = 2 returning pg_current_xact_id()::text as xid'))
    await goneEverywhere(2, (r) => r.status === 404)
  })

  it('an INSERT in plain SQL: a cached 404 goes away', async () => {
    expect((await get(`${w.edge}/api/products/9000`)).status).toBe(404)
    expect((await get(`${w.edge}/api/products/9000`)).cache).toBe('HIT')
    await get(`${w.appB}/api/products/9000`)
    await until(() => w.a.peek('product:9000') === null && w.b.peek('product:9000') === null, 'both L1s hold the 404')
    await w.capture.waitFor(await write(w.db,
      `insert into products (id, name, price_cents, stock) values (9000, 'New', 5, 5) returning pg_current_xact_id()::text as xid`))
    await goneEverywhere(9000, (r) => r.status === 200 && r.body.name === 'New')
  })

  it('the top-N list (tag products) is invalidated by any product change, and answers carry the entry\'s headers', async () => {
    const first = await fetch(`${w.appA}/api/products?top=3`)
    expect(first.headers.get('cache-control')).toBe('public, max-age=0, s-maxage=300, stale-while-revalidate=3600, stale-if-error=3600')
    expect(first.headers.get('surrogate-key')).toBe('products')
    const top = await first.json() as Product[]
    expect(top).toHaveLength(3)
    const one = await fetch(`${w.appA}/api/products/${top[0]!.id}`)
    expect(one.headers.get('etag')).toBe(`"v${top[0]!.version}"`)
    expect(one.headers.get('surrogate-key')).toBe(`product:${top[0]!.id}`)
    await w.capture.waitFor(await write(w.db, 'update products set popularity = 1000000 where id = 5 returning pg_current_xact_id()::text as xid'))
    await until(async () => ((await get(`${w.appB}/api/products?top=3`)).body as unknown as Product[])[0]?.id === 5, 'the list showing the change')
    await until(async () => ((await get(`${w.appA}/api/products?top=3`)).body as unknown as Product[])[0]?.id === 5, 'the list showing the change')
  })

  it('outage: 1,000 changes over 500 rows while the invalidator is stopped; after restart every key is invalidated', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => 100 + i)
    const before = new Map<number, number>()
    for (const id of ids) before.set(id, (await readProduct(w.a, w.db, id))!.version)
    // (With Redis, L1 is written once L2 took the value, just after the answer.)
    await until(() => ids.every((id) => w.a.peek(`product:${id}`) !== undefined), 'L1 holding all 500 rows')
    await w.capture.close()
    let last = 0n
    for (let round = 0; round < 2; round++) {
      for (let from = 100; from < 600; from += 100) {
        last = await write(w.db, `update products set stock = stock + 1, version = version + 1 where id >= ${from} and id < ${from + 100}
          returning pg_current_xact_id()::text as xid`)
      }
    }
    // Nothing was published meanwhile: every node still holds the old rows.
    expect(ids.filter((id) => w.a.peek(`product:${id}`) === undefined)).toEqual([])
    w.capture = await w.startCapture()
    await w.capture.waitFor(last)
    // (errors may be above 0 on a loaded machine: a publish Redis did not confirm in time is retried.)
    const stats = w.capture.stats()
    expect(stats, JSON.stringify(stats)).toMatchObject({ published: 1000, depth: 0, skipped: 0 })
    expect((await Promise.all(ids.map((id) => w.l2.get(`product:${id}`)))).filter((v) => v !== undefined)).toEqual([])
    await until(() => ids.every((id) => w.a.peek(`product:${id}`) === undefined), 'L1 dropped all 500 keys')
    for (const id of ids) {
      const row = await readProduct(w.a, w.db, id)
      expect(row!.version).toBe(before.get(id)! + 2)
    }
  }, 120_000)

  it('a rolled-back transaction invalidates nothing', async () => {
    await readProduct(w.a, w.db, 50)
    await readProduct(w.a, w.db, 51)
    await until(() => w.a.peek('product:50') !== undefined && w.a.peek('product:51') !== undefined, 'L1 holding both rows')
    const published = w.capture.stats().published
    await w.db.exec('begin; update products set price_cents = 1 where id = 50; delete from products where id = 50; rollback')
    // A later commit: capture publishes in transaction order, so once its change arrived, the
    // rolled-back one would have too.
    await w.capture.waitFor(await write(w.db, 'update products set stock = 1 where id = 51 returning pg_current_xact_id()::text as xid'))
    await until(() => w.a.peek('product:51') === undefined, 'the later change reaching L1')
    expect(w.a.peek('product:50')).toMatchObject({ id: 50 })
    expect(w.capture.stats().published).toBe(published + 1)
  })

  it('one transaction touching 100 rows invalidates all 100', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => 10 + i)
    for (const id of ids) await readProduct(w.a, w.db, id)
    await until(() => ids.every((id) => w.a.peek(`product:${id}`) !== undefined), 'L1 holding all 100 rows')
    await w.capture.waitFor(await write(w.db, 'update products set stock = stock + 1 where id >= 10 and id < 110 returning pg_current_xact_id()::text as xid'))
    expect((await Promise.all(ids.map((id) => w.l2.get(`product:${id}`)))).filter((v) => v !== undefined)).toEqual([])
    await until(() => ids.every((id) => w.a.peek(`product:${id}`) === undefined), 'L1 dropped all 100 keys')
  })

  it('a second invalidator stands by while the first works, and takes over when it is closed', async () => {
    const standby = await w.startCapture()
    try {
      await until(() => standby.stats().steps > 0, 'the standby trying the lease')
      expect([w.capture.stats().active, standby.stats().active]).toEqual([true, false])
      await w.capture.close()
      await readProduct(w.a, w.db, 60)
      await until(() => w.a.peek('product:60') !== undefined, 'L1 holding the row')
      const xid = await write(w.db, 'update products set stock = 7 where id = 60 returning pg_current_xact_id()::text as xid')
      await standby.waitFor(xid)
      expect(standby.stats()).toMatchObject({ active: true, takeovers: 1 })
      await until(() => w.a.peek('product:60') === undefined, 'the change reaching L1')
    } finally {
      w.capture = standby
    }
  }, 60_000)
})

describe('change capture on PostgreSQL: concurrent writers', () => {
  it('a transaction that drew a smaller outbox id but commits later is still published; a long transaction elsewhere holds back nothing', async () => {
    const schema = await freshSchema()
    const db = await openPostgres(schema.url)
    const namespace = freshNamespace('cdc-order')
    const cache = createCache({ namespace, logger: quiet, l2: { redis: inject('redisUrl') } })
    const sink = createCache({ namespace, logger: quiet, l1: false, l2: { redis: inject('redisUrl') } })
    const slow = new pg.Client({ connectionString: schema.url })
    let capture: ChangeCapture | undefined
    try {
      // Following the bus before filling: its first sync flushes what L1 took in before it.
      await Promise.all([cache.ready(), sink.ready()])
      await seedCatalog(db, 20)
      await installOutbox(db, mapping)
      capture = await startOutboxCapture({ db, mapping, sink: cacheSink(sink), logger: quiet })
      for (const id of [7, 8]) await readProduct(cache, db, id)
      await until(() => cache.peek('product:7') !== undefined && cache.peek('product:8') !== undefined, 'L1 holding both rows')
      await slow.connect()
      // The slow transaction writes first (its outbox row gets the smaller id) and stays open...
      await slow.query('begin')
      await slow.query('update products set stock = 70 where id = 7')
      // ...while a fast one writes and commits; capture wakes up and reads (twice, to be sure it
      // looked after the commit) without the slow one's row, which is not committed yet.
      const steps = capture.stats().steps
      await write(db, 'update products set stock = 80 where id = 8 returning pg_current_xact_id()::text as xid')
      await until(() => capture!.stats().steps >= steps + 2, 'capture reading after the fast commit')
      const { rows } = await slow.query<{ xid: string }>('select pg_current_xact_id()::text as xid')
      await slow.query('commit')
      await capture.waitFor(BigInt(rows[0]!.xid))
      await until(() => cache.peek('product:7') === undefined && cache.peek('product:8') === undefined, 'both changes reaching L1')
      expect(capture.stats()).toMatchObject({ published: 2, skipped: 0 })

      // A long transaction that writes elsewhere (it has a transaction id, and stays open) holds
      // back nothing: a later change is published while it runs.
      await slow.query('begin')
      await slow.query('create temporary table busy (x int)')
      await slow.query('insert into busy values (1)')
      await readProduct(cache, db, 9)
      await until(() => cache.peek('product:9') !== undefined, 'L1 holding the row')
      await capture.waitFor(await write(db, 'update products set stock = 90 where id = 9 returning pg_current_xact_id()::text as xid'))
      await until(() => cache.peek('product:9') === undefined, 'the change reaching L1 while the other transaction is open')
      await slow.query('rollback')
    } finally {
      await slow.end().catch(() => {})
      await capture?.close()
      await cache.close()
      await sink.close()
      await db.close()
      await schema.drop()
    }
  }, 60_000)
})

describe('change capture on PostgreSQL: take-over after kill -9', () => {
  const children: ChildProcess[] = []
  afterAll(() => { for (const c of children) c.kill('SIGKILL') })

  it('two invalidator processes: one works; after the active one is killed -9 the other takes over', async () => {
    const schema = await freshSchema()
    const db = await openPostgres(schema.url)
    const namespace = freshNamespace('cdc-kill')
    const cache = createCache({ namespace, logger: quiet, l2: { redis: inject('redisUrl') } })
    try {
      await cache.ready()
      await seedCatalog(db, 20)
      await installOutbox(db, mapping)
      const states = new Map<number, { active: boolean; tried: boolean }>()
      const start = (): ChildProcess => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/cdc-invalidator.ts', schema.url, inject('redisUrl'), namespace],
          { stdio: ['ignore', 'pipe', 'inherit'] })
        children.push(child)
        createInterface({ input: child.stdout }).on('line', (line) => {
          const state = JSON.parse(line) as { pid: number; active: boolean; tried: boolean }
          states.set(state.pid, state)
        })
        return child
      }
      const [one, two] = [start(), start()]
      await until(() => [one, two].every((c) => states.get(c.pid!)?.tried === true), 'both invalidators trying the lease', 60_000)
      await until(() => [...states.values()].some((s) => s.active), 'one invalidator active', 30_000)
      expect([...states.values()].filter((s) => s.active)).toHaveLength(1)
      const [active, standby] = states.get(one.pid!)!.active ? [one, two] : [two, one]
      // The active one works: a change reaches this node.
      await readProduct(cache, db, 3)
      await until(() => cache.peek('product:3') !== undefined, 'L1 holding the row')
      await write(db, 'update products set stock = 3 where id = 3 returning pg_current_xact_id()::text as xid')
      await until(() => cache.peek('product:3') === undefined, 'the first invalidator publishing')
      active.kill('SIGKILL')
      await readProduct(cache, db, 4)
      await until(() => cache.peek('product:4') !== undefined, 'L1 holding the row')
      await write(db, 'update products set stock = 4 where id = 4 returning pg_current_xact_id()::text as xid')
      await until(() => states.get(standby.pid!)?.active === true, 'the standby taking over', 30_000)
      await until(() => cache.peek('product:4') === undefined, 'the second invalidator publishing the change made while none was active', 30_000)
    } finally {
      for (const c of children) c.kill('SIGKILL')
      await cache.close()
      await db.close()
      await schema.drop()
    }
  }, 120_000)
})
