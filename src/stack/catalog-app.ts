import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { TierCache } from '../core/cache.js'
import type { Logger } from '../ports/logger.js'
import { silentLogger } from '../core/logger.js'
import type { Database } from '../db/database.js'
import { parseProductPatch } from './product-patch.js'
import { readJsonBody } from './read-json-body.js'
import { RequestError } from './request-error.js'

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

/** The largest id a PostgreSQL `integer` primary key holds. */
const MAX_ID = 2_147_483_647
const READ_ONLY = 'GET, HEAD'
const PRODUCT_METHODS = 'GET, HEAD, PUT, PATCH'

/** Options of {@link createCatalogApp}. */
export interface CatalogAppOptions {
  db: Database
  cache: TierCache
  /** Extra counters for `/.stack/stats`. */
  stats?: () => Record<string, unknown>
  /** Where a request that failed inside the app is reported (the client gets a bare 500). */
  logger?: Logger
}

/**
 * The demo application: a product catalog whose reads go through tiercache (cache-aside with a
 * source version per row) and whose writes commit to the database, then invalidate the row's tag,
 * which reaches every app node's L1 and every edge through the bus. Its responses carry the
 * headers an RFC 9111 cache (the edge, or a CDN) needs: `s-maxage`, `stale-*`, `ETag`,
 * `Surrogate-Key`.
 *
 * It trusts nothing it is sent: paths are matched exactly (no dot-segment resolving, no decoding),
 * ids are canonical integers in the column's range, and a write is checked whole (content type,
 * size, JSON, every field) before the database sees it, so a refused write changes no row and
 * publishes no invalidation. Refusals are `{ error, field, rule }` with a 4xx; a failure inside is
 * a bare 500 and a log line.
 */
export function createCatalogApp(options: CatalogAppOptions): Server {
  const { db, cache } = options
  const logger = options.logger ?? silentLogger
  const load = async (id: number): Promise<Product | null> => {
    const { rows } = await db.query<Product>('select id, name, price_cents, stock, version from products where id = $1', [id])
    const row = rows[0]
    return row === undefined ? null : { ...row, version: Number(row.version) }
  }

  const product = async (req: IncomingMessage, res: ServerResponse, rawId: string, query: string | undefined): Promise<void> => {
    const method = req.method ?? ''
    if (method === 'OPTIONS') return allow(res, PRODUCT_METHODS)
    if (!PRODUCT_METHODS.split(', ').includes(method)) throw notAllowed(PRODUCT_METHODS)
    const id = parseId(rawId)
    if (query !== undefined) throw new RequestError(400, 'query', 'empty: the API takes no query parameters', 'the API takes no query parameters')
    if (method === 'GET' || method === 'HEAD') {
      const found = await cache.getOrSet(`product:${id}`, async (ctx) => {
        const row = await load(id)
        if (row !== null) ctx.setVersion(row.version)
        return row
      }, { tags: [`product:${id}`] })
      if (found === null) return send(res, 404, { error: 'not found' }, { 'cache-control': 'public, s-maxage=10' }, method === 'HEAD')
      return send(res, 200, found, {
        'cache-control': 'public, max-age=0, s-maxage=60, stale-while-revalidate=30, stale-if-error=3600',
        'surrogate-key': `product:${id} products`,
        etag: `"v${found.version}"`,
      }, method === 'HEAD')
    }
    // Everything is checked before the database is touched: a refused write writes nothing.
    const patch = parseProductPatch(await readJsonBody(req))
    const { rows } = await db.query<Product>(`update products set
        name = coalesce($2, name), price_cents = coalesce($3, price_cents), stock = coalesce($4, stock),
        version = version + 1, updated_at = now()
      where id = $1 returning id, name, price_cents, stock, version`, [id, patch.name ?? null, patch.price_cents ?? null, patch.stock ?? null])
    const row = rows[0]
    if (row === undefined) return send(res, 404, { error: 'not found' }, NO_STORE)
    const version = Number(row.version)
    // Committed: now every tier of every node, and every edge, forgets the old row.
    await cache.invalidate({ keys: [`product:${id}`], tags: [`product:${id}`], version })
    return send(res, 200, { ...row, version }, NO_STORE)
  }

  const readOnly = (req: IncomingMessage, res: ServerResponse, write: (head: boolean) => void): void => {
    if (req.method === 'OPTIONS') return allow(res, READ_ONLY)
    if (req.method !== 'GET' && req.method !== 'HEAD') throw notAllowed(READ_ONLY)
    write(req.method === 'HEAD')
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { path, query } = requestTarget(req.url ?? '')
    const match = /^\/api\/products\/([^/]*)$/.exec(path)
    if (match !== null) return product(req, res, match[1]!, query)
    if (path === '/.stack/stats') {
      return readOnly(req, res, (head) => send(res, 200, { cache: cache.stats(), ...(options.stats?.() ?? {}) }, NO_STORE, head))
    }
    if (path === '/') {
      return readOnly(req, res, (head) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'public, s-maxage=300', 'x-content-type-options': 'nosniff' })
        res.end(head ? undefined : ['tiercache demo catalog', '',
          'GET   /api/products/:id   a product (through tiercache; cacheable by the edge for 60 s)',
          'PUT   /api/products/:id   Content-Type: application/json, {"price_cents": 999}: commits, then invalidates every tier and the edge',
          '                          (PUT and PATCH both update the fields given: name, price_cents, stock)',
          'GET   /.stack/stats       cache and edge counters', ''].join('\n'))
      })
    }
    send(res, 404, { error: 'not found' }, NO_STORE, req.method === 'HEAD')
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RequestError) {
        if (res.headersSent) return void res.destroy()
        return send(res, error.status, { error: error.message, field: error.field, rule: error.rule }, { ...NO_STORE, ...error.headers }, req.method === 'HEAD')
      }
      // The cause (a database error, a bug) is for the operator's log, never for the client.
      logger.error({ method: req.method, url: req.url?.slice(0, 200), error: error instanceof Error ? error.message : String(error) }, 'demo app: request failed')
      if (!res.headersSent) send(res, 500, { error: 'internal error' }, NO_STORE)
      else res.destroy()
    })
  })
}

const NO_STORE = { 'cache-control': 'no-store' }

/** The path and the query (undefined when there is no `?`) of an origin-form or absolute-form request target. */
function requestTarget(target: string): { path: string; query: string | undefined } {
  let rest = target
  if (/^https?:\/\//i.test(target)) {
    // Absolute form (RFC 9112 §3.2.2): what a proxy sends; the path is what follows the authority.
    const slash = target.indexOf('/', target.indexOf('//') + 2)
    rest = slash === -1 ? '/' : target.slice(slash)
  } else if (!target.startsWith('/') || target.startsWith('//')) {
    throw new RequestError(400, 'path', 'an absolute path such as /api/products/1', 'malformed request target')
  }
  const q = rest.indexOf('?')
  return q === -1 ? { path: rest, query: undefined } : { path: rest.slice(0, q), query: rest.slice(q + 1) }
}

/** A product id as written in a URL: a canonical decimal integer 1..2^31-1 (no sign, leading zero, or encoding). */
function parseId(raw: string): number {
  const id = /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : NaN
  if (!(id <= MAX_ID)) throw new RequestError(400, 'id', `an integer from 1 to ${MAX_ID}, written in plain digits`)
  return id
}

function notAllowed(methods: string): RequestError {
  return new RequestError(405, 'method', methods, 'method not allowed', { allow: methods })
}

function allow(res: ServerResponse, methods: string): void {
  res.writeHead(204, { allow: methods, 'cache-control': 'no-store' })
  res.end()
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, head = false): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-content-type-options': 'nosniff',
    ...headers,
  })
  res.end(head ? undefined : text)
}
