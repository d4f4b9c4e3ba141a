import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { TierCache } from '../core/cache.js'
import type { Database } from '../db/database.js'

/** A product row. */
export interface Product extends Record<string, unknown> {
  id: number
  name: string
  price_cents: number
  stock: number
  version: number
}

/** Creates the table and seeds `count` products (idempotent). */
export async function seedCatalog(db: Database, count: number): Promise<void> {
  await db.query(`create table if not exists products (
    id integer primary key,
    name text not null,
    price_cents integer not null,
    stock integer not null,
    version bigint not null default 1,
    updated_at timestamptz not null default now())`)
  await db.query(`insert into products (id, name, price_cents, stock)
    select i, 'Product ' || i, 100 + (i * 37) % 10000, (i * 13) % 100 from generate_series(1, $1::int) as i
    on conflict (id) do nothing`, [count])
}

const MAX_BODY = 16 * 1024

/**
 * The demo application: a product catalog whose reads go through tiercache (cache-aside with a
 * source version per row) and whose writes commit to the database, then invalidate the row's tag,
 * which reaches every app node's L1 and every edge through the bus. Its responses carry the
 * headers an RFC 9111 cache (the edge, or a CDN) needs: `s-maxage`, `stale-*`, `ETag`,
 * `Surrogate-Key`.
 */
export function createCatalogApp(options: { db: Database; cache: TierCache; stats?: () => Record<string, unknown> }): Server {
  const { db, cache } = options
  const load = async (id: number): Promise<Product | null> => {
    const { rows } = await db.query<Product>('select id, name, price_cents, stock, version from products where id = $1', [id])
    const row = rows[0]
    return row === undefined ? null : { ...row, version: Number(row.version) }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const match = /^\/api\/products\/(\d{1,9})$/.exec(url.pathname)
    if (match !== null) {
      const id = Number(match[1])
      if (req.method === 'GET' || req.method === 'HEAD') {
        const product = await cache.getOrSet(`product:${id}`, async (ctx) => {
          const row = await load(id)
          if (row !== null) ctx.setVersion(row.version)
          return row
        }, { tags: [`product:${id}`] })
        if (product === null) return send(res, 404, { error: 'not found' }, { 'cache-control': 'public, s-maxage=10' })
        return send(res, 200, product, {
          'cache-control': 'public, max-age=0, s-maxage=60, stale-while-revalidate=30, stale-if-error=3600',
          'surrogate-key': `product:${id} products`,
          etag: `"v${product.version}"`,
        }, req.method === 'HEAD')
      }
      if (req.method === 'PUT' || req.method === 'PATCH') {
        const patch = await readJson(req)
        if (patch === undefined) return send(res, 400, { error: 'expected a JSON object { name?, price_cents?, stock? }' })
        const name = typeof patch.name === 'string' && patch.name.length > 0 && patch.name.length <= 200 ? patch.name : null
        const price = Number.isInteger(patch.price_cents) && (patch.price_cents as number) >= 0 ? patch.price_cents : null
        const stock = Number.isInteger(patch.stock) && (patch.stock as number) >= 0 ? patch.stock : null
        const { rows } = await db.query<Product>(`update products set
            name = coalesce($2, name), price_cents = coalesce($3, price_cents), stock = coalesce($4, stock),
            version = version + 1, updated_at = now()
          where id = $1 returning id, name, price_cents, stock, version`, [id, name, price, stock])
        const row = rows[0]
        if (row === undefined) return send(res, 404, { error: 'not found' })
        const version = Number(row.version)
        // Committed: now every tier of every node, and every edge, forgets the old row.
        await cache.invalidate({ keys: [`product:${id}`], tags: [`product:${id}`], version })
        return send(res, 200, { ...row, version }, { 'cache-control': 'no-store' })
      }
      return send(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD, PUT, PATCH' })
    }
    if (url.pathname === '/.stack/stats') {
      return send(res, 200, { cache: cache.stats(), ...(options.stats?.() ?? {}) }, { 'cache-control': 'no-store' })
    }
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'public, s-maxage=300' })
      res.end(['tiercache demo catalog', '',
        'GET /api/products/:id         a product (through tiercache; cacheable by the edge for 60 s)',
        'PUT /api/products/:id         {"price_cents": 999} commits, then invalidates every tier and the edge',
        'GET /.stack/stats             cache and edge counters', ''].join('\n'))
      return
    }
    send(res, 404, { error: 'not found' })
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: error instanceof Error ? error.message : 'internal error' }, { 'cache-control': 'no-store' })
      else res.destroy()
    })
  })
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, head = false): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(head ? undefined : text)
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) return undefined
    chunks.push(chunk as Buffer)
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}
