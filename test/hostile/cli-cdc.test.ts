/**
 * `tiercache cdc` and `tiercache catalog` as a user runs them: real processes, a real PostgreSQL
 * (a schema of their own) and Redis. Usage mistakes exit 2 with one line naming the fix; a
 * mapping that does not match the database exits 1; a running invalidator publishes a change made
 * in plain SQL and stops cleanly on SIGTERM.
 */
import diagnostics from 'node:diagnostics_channel'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { openPostgres } from '../../src/db/pg-database.js'
import { createCache } from '../../src/index.js'
import { seedCatalog } from '../../src/stack/catalog-app.js'
import { freshNamespace } from '../helpers/namespace.js'
import { freshSchema } from '../helpers/pg-schema.js'
import { until } from '../helpers/until.js'
import { run, stopAll, tiercache } from './cli-process.js'

afterEach(() => stopAll())

const MAPPING = { tables: { products: { key: 'product:{id}', tags: ['product:{id}', 'products'], version: 'version' } } }

async function file(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-cdc-'))
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

function oneLine(err: string): string {
  expect(err.trimEnd().split('\n'), err).toHaveLength(1)
  return err
}

describe('tiercache cdc: usage', () => {
  it.each([
    [[], {}, '--config is required'],
    [['--config', 'x.json'], { DATABASE_URL: undefined }, '--database (or DATABASE_URL) is required'],
    [['--config', 'x.json', '--database', 'postgres://h/db'], { REDIS_URL: undefined }, '--redis (or REDIS_URL) is required'],
    [['--config', 'x.json', '--database', 'postgres://h/db', '--redis', 'redis://h', '--poll-interval', '1s'], {}, '--poll-interval must be an integer'],
    [['--config', 'x.json', '--database', 'postgres://h/db', '--redis', 'redis://h', '--poll-interval', '4000'], {}, 'at most half of --lease'],
    [['--confg', 'x.json'], {}, 'did you mean --config?'],
    [['--config', 'x.json', '--database', 'postgres://h/db', '--redis', 'redis://h', '--mode', 'wal'], {}, '--mode must be outbox or logical'],
    [['--config', 'x.json', '--database', 'postgres://h/db', '--mode', 'logical', '--install'], {}, '--install is for the outbox mode'],
  ])('%j: exit 2, one line', async (args, env, message) => {
    const { code, err } = await run(['cdc', ...args], env)
    expect(code).toBe(2)
    expect(oneLine(err)).toContain(message)
  })

  it.each([
    ['{"tables": {"products": {"key": "product:{id}", "ttl": 5}}}', 'E_CDC_CONFIG', 'tables.products.ttl: unknown key'],
    ['{not json', 'E_CDC_CONFIG', 'not valid JSON'],
  ])('a mapping file %s: exit 2 naming the problem', async (content, code, message) => {
    const config = await file('mapping.json', content)
    const result = await run(['cdc', '--config', config, '--database', 'postgres://127.0.0.1:1/x', '--redis', 'redis://127.0.0.1:1'])
    expect(result.code).toBe(2)
    expect(oneLine(result.err)).toContain(code)
    expect(result.err).toContain(message)
  })

  it('--help prints the mapping format and exits 0', async () => {
    const { code, out } = await run(['cdc', '--help'])
    expect(code).toBe(0)
    expect(out).toContain('"key": "product:{id}"')
  })
})

describe('tiercache cdc next to an application', () => {
  it('--install, then it publishes a change made in plain SQL; a mapping that does not match the database exits 1; SIGTERM stops it', async () => {
    const schema = await freshSchema(inject('databaseUrl'))
    const db = await openPostgres(schema.url)
    const namespace = freshNamespace('cli-cdc')
    const cache = createCache({ namespace, l2: { redis: inject('redisUrl') } })
    const l2 = createCache({ namespace, l1: false, l2: { redis: inject('redisUrl') } })
    try {
      // Following the bus before filling: its first sync flushes what L1 took in before it.
      await Promise.all([cache.ready(), l2.ready()])
      await seedCatalog(db, 10)
      const config = await file('mapping.json', JSON.stringify(MAPPING))
      const base = ['--config', config, '--database', schema.url, '--redis', inject('redisUrl'), '--namespace', namespace]
      // Before --install: the outbox is not there.
      const early = await run(['cdc', ...base])
      expect(early.code).toBe(1)
      expect(oneLine(early.err)).toContain('E_CDC_SCHEMA')
      const install = await run(['cdc', ...base, '--install'])
      expect(install, install.err).toMatchObject({ code: 0 })
      expect(install.out).toContain('installed')
      // Twice is fine (idempotent).
      expect((await run(['cdc', ...base, '--install'])).code).toBe(0)
      const wrong = await file('wrong.json', JSON.stringify({ tables: { products: { key: 'product:{sku}' } } }))
      const mismatch = await run(['cdc', '--config', wrong, '--database', schema.url, '--install'])
      expect(mismatch.code).toBe(1)
      expect(oneLine(mismatch.err)).toContain('E_CDC_SCHEMA: tables.products: no column sku')

      // A lease far longer than a step can stall on a loaded machine: a step that outlived its lease
      // publishes, then finds another holder may own the outbox and does not count the batch.
      const cdc = tiercache(['cdc', ...base, '--poll-interval', '200', '--lease', '15000'])
      await cdc.waitFor(/following \(outbox mode\) products/)
      await cache.getOrSet('product:3', () => ({ id: 3 }), { tags: ['product:3'] })
      await until(() => cache.peek('product:3') !== undefined, 'L1 holding the row')
      expect(await l2.get('product:3')).toEqual({ id: 3 })
      // The signal is the invalidation itself arriving over the bus: an L1 flush (a bus blip) or an
      // L2 read that timed out would also look like "gone" and prove nothing.
      const arrived = new Promise<void>((resolve) => {
        const onMessage = (message: unknown): void => {
          const m = message as { namespace: string; keys?: string[]; tags?: string[] }
          if (m.namespace === namespace && (m.keys ?? []).concat(m.tags ?? []).includes('product:3')) {
            diagnostics.unsubscribe('tiercache:invalidated', onMessage)
            resolve()
          }
        }
        diagnostics.subscribe('tiercache:invalidated', onMessage)
      })
      await db.query('update products set stock = 99 where id = 3')
      await arrived
      // Both caches here follow the bus; the first to apply the message may be the one without L1.
      await until(async () => cache.peek('product:3') === undefined && await l2.get('product:3') === undefined, 'the change reaching L1 and L2 through tiercache cdc')
      cdc.child.kill('SIGTERM')
      const exit = await cdc.exited
      expect(exit.code, exit.err).toBe(0)
      expect(exit.out).toMatch(/stopped after publishing 1 changes \(0 errors\)/)

      // The logical mode on a server without wal_level=logical: refused at start, naming the setting.
      // (The logical mode itself runs against a private server: test/integration/cdc-logical.test.ts.)
      const { rows } = await db.query<{ wal_level: string }>('show wal_level')
      if (rows[0]!.wal_level !== 'logical') {
        const logical = await run(['cdc', ...base, '--mode', 'logical'])
        expect(logical.code).toBe(1)
        expect(oneLine(logical.err)).toContain('E_CDC_SCHEMA: logical mode needs wal_level=logical')
      }
    } finally {
      await cache.close()
      await l2.close()
      await db.close()
      await schema.drop()
    }
  }, 120_000)
})

describe('tiercache catalog', () => {
  it('serves the catalog on embedded defaults: reads with cache headers, a write visible on the next read, bad input refused', async () => {
    const cli = tiercache(['catalog', '--port', '0', '--products', '50'], { DATABASE_URL: undefined, REDIS_URL: undefined })
    const [, url] = await cli.waitFor(/listening on (http:\/\/\S+?)\/api\/products\/1/)
    const first = await fetch(`${url}/api/products/7`)
    expect(first.status).toBe(200)
    expect(first.headers.get('etag')).toBe('"v1"')
    expect(first.headers.get('surrogate-key')).toBe('product:7')
    const put = await fetch(`${url}/api/products/7`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"price_cents": 1}' })
    expect(await put.json()).toMatchObject({ id: 7, price_cents: 1, version: 2 })
    // Answered once capture published the invalidation: the next read is the new row.
    expect(await (await fetch(`${url}/api/products/7`)).json()).toMatchObject({ price_cents: 1, version: 2 })
    const created = await fetch(`${url}/api/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "Lamp", "price_cents": 999, "stock": 3}' })
    expect(created.status).toBe(201)
    const product = await created.json() as { id: number }
    expect(product.id).toBe(51)
    expect(created.headers.get('location')).toBe('/api/products/51')
    const bad = await fetch(`${url}/api/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "No price", "stock": 3}' })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ field: 'price_cents' })
    expect((await fetch(`${url}/api/products/51`, { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(`${url}/api/products/51`)).status).toBe(404)
    expect((await fetch(`${url}/api/products?top=0`)).status).toBe(400)
    const top = await (await fetch(`${url}/api/products?top=2`)).json() as { popularity: number }[]
    expect(top).toHaveLength(2)
    expect(top[0]!.popularity).toBeGreaterThanOrEqual(top[1]!.popularity)
    cli.child.kill('SIGTERM')
    expect((await cli.exited).code).toBe(0)
  }, 120_000)

  it('a usage mistake exits 2', async () => {
    const { code, err } = await run(['catalog', '--capture', 'sometimes'])
    expect(code).toBe(2)
    expect(oneLine(err)).toContain('--capture must be in-process or external')
  })
})
