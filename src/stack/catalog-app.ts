import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { TierCache } from '../core/cache.js'
import type { Logger } from '../ports/logger.js'
import { silentLogger } from '../core/logger.js'
import type { Database } from '../db/database.js'
import { cacheHeaders } from '../http/cache-control-headers.js'
import { createClientRoutes } from './client-routes.js'
import type { EventStreamLimits } from './client-routes.js'
import { parseNewProduct, parseProductPatch } from './product-patch.js'
import { countQueries } from './query-counter.js'
import type { CountedDatabase } from './query-counter.js'
import { readJsonBody } from './read-json-body.js'
import { RequestError } from './request-error.js'

/** A product row. */
export interface Product extends Record<string, unknown> {
  id: number
  name: string
  price_cents: number
  stock: number
  popularity: number
  updated_at: string
  version: number
}

/** The capture mapping of the catalog: what each product change invalidates. */
export const CATALOG_MAPPING = {
  tables: { products: { key: 'product:{id}', tags: ['product:{id}', 'products'], version: 'version' } },
} as const

/** How many rows one seeding statement inserts (progress is reported after each). */
const SEED_CHUNK = 100_000

/**
 * Creates the table (idempotent; an older table gains the columns it lacks) and seeds products
 * 1..`count` that are not there yet: one `generate_series` statement per 100,000 rows, with
 * `onProgress` after each.
 */
export async function seedCatalog(db: Database, count: number, onProgress?: (done: number, total: number) => void): Promise<void> {
  await db.exec(`create table if not exists products (
    id integer primary key,
    name text not null,
    price_cents integer not null,
    stock integer not null,
    popularity integer not null default 0,
    version bigint not null default 1,
    updated_at timestamptz not null default now());
    alter table products add column if not exists popularity integer not null default 0;
    create index if not exists products_popularity on products (popularity desc, id);
    create sequence if not exists products_id_seq owned by products.id`)
  for (let from = 1; from <= count; from += SEED_CHUNK) {
    const to = Math.min(count, from + SEED_CHUNK - 1)
    await db.query(`insert into products (id, name, price_cents, stock, popularity)
      select i, 'Product ' || i, 100 + (i * 37) % 10000, (i * 13) % 100, (i * 7919) % 100000 from generate_series($1::int, $2::int) as i
      on conflict (id) do nothing`, [from, to])
    onProgress?.(to, count)
  }
  // New products (POST) take ids after the largest one.
  await db.query(`select setval('products_id_seq', greatest((select max(id) from products), 1))`)
}

/** The largest id a PostgreSQL `integer` primary key holds. */
const MAX_ID = 2_147_483_647
const MAX_TOP = 100
const READ_ONLY = 'GET, HEAD'
const PRODUCT_METHODS = 'GET, HEAD, PUT, PATCH, DELETE'
const LIST_METHODS = 'GET, HEAD, POST'
const COLUMNS = 'id, name, price_cents, stock, popularity, updated_at, version'
/**
 * How long the API's answers stay fresh in tiercache and shared caches, and how long stale may
 * serve. Change capture invalidates every tier (and purges the edge) on each commit, so the TTL
 * is not what keeps answers current: it bounds how long a copy can outlive an invalidation that
 * never arrived (capture down for longer than that). A minute-long TTL made every product read
 * less than once a minute a database read a minute, for no gain in freshness.
 */
const TTL = '5m'
const GRACE = '1h'

/** How the catalog caches one product: its key, its tags, its lifetimes (`tiercache warm` fills the same entries). */
export const PRODUCT_ENTRY = {
  key: (id: number): string => `product:${id}`,
  tags: (id: number): string[] => [`product:${id}`],
  ttl: TTL,
  grace: GRACE,
} as const

/** Reads one product row, as the catalog caches it; null when there is none. */
export async function loadProduct(db: Pick<Database, 'query'>, id: number): Promise<Product | null> {
  const { rows } = await db.query<Product>(`select ${COLUMNS} from products where id = $1`, [id])
  const row = rows[0]
  return row === undefined ? null : normalize(row)
}

/** A product through the cache, as the API reads it: its key, tags and lifetimes, its version for fencing. */
export function readProduct(cache: TierCache, db: Pick<Database, 'query'>, id: number): Promise<Product | null> {
  return cache.getOrSet(PRODUCT_ENTRY.key(id), async (ctx) => {
    const row = await loadProduct(db, id)
    if (row !== null) ctx.setVersion(row.version)
    return row
  }, { tags: PRODUCT_ENTRY.tags(id), ttl: TTL, grace: GRACE })
}

/** Options of {@link createCatalogApp}. */
export interface CatalogAppOptions {
  db: Database
  cache: TierCache
  /**
   * Called after each committed write with its transaction id; the answer waits for it. The stack
   * passes the change capture's `waitFor`, so a client reads its own write from every tier once
   * answered. The app itself never invalidates: capture does, for every writer alike.
   */
  afterCommit?: (xid: bigint) => Promise<void>
  /**
   * False: reads skip every cache and go to the database (the baseline `npm run bench:stack`
   * measures against). Default true.
   */
  caching?: boolean
  /**
   * `db` already counted by the caller, which reports the counts itself (a worker of several);
   * queries then go through `countedDb.db`. Default: the app counts `db`'s queries.
   */
  countedDb?: CountedDatabase
  /** Extra counters for `/.stack/stats`. */
  stats?: () => Record<string, unknown>
  /**
   * The whole service's `/.stack/stats` when it runs as several processes (summed by the primary),
   * instead of this process's own.
   */
  statsOf?: () => Promise<Record<string, unknown>>
  /** Where a request that failed inside the app is reported (the client gets a bare 500). */
  logger?: Logger
  /** Limits of the browser layer's event stream (`/_tiercache/events`), which follows the cache's bus. */
  eventStream?: EventStreamLimits
}

type Row = Record<string, unknown> & { xid?: string }

/**
 * The reference catalog service: reads through tiercache (cache-aside with the row's version as
 * the source version), writes to PostgreSQL only, one statement (so one transaction) per request.
 * Nothing here invalidates: the database's change capture (`tiercache cdc`, in-process in the
 * stack) turns each committed change into the invalidation of `product:<id>` and of the tag
 * `products`, whoever made it (this app, `psql`, a batch job). Answers carry the headers an
 * RFC 9111 cache needs, from the same ttl, grace, tags and version the entry was cached with
 * (`cacheHeaders`).
 *
 * It trusts nothing it is sent: paths are matched exactly (no dot-segment resolving, no decoding),
 * ids are canonical integers in the column's range, and a write is checked whole (content type,
 * size, JSON, every field) before the database sees it, so a refused write changes no row and
 * publishes no invalidation. Refusals are `{ error, field, rule }` with a 4xx; a failure inside is
 * a bare 500 and a log line.
 */
export function createCatalogApp(options: CatalogAppOptions): Server {
  const { cache } = options
  // Every query the app sends is counted: `/.stack/stats` reports it as `db.queries`.
  const queries = options.countedDb ?? countQueries(options.db)
  const db = queries.db
  const caching = options.caching !== false
  const logger = options.logger ?? silentLogger
  // The browser layer: the invalidation event stream, the client modules and the demo page.
  const client = createClientRoutes({ bus: cache.bus, ...(options.eventStream === undefined ? {} : { limits: options.eventStream }) })
  const committed = async (rows: Row[]): Promise<Product | undefined> => {
    const row = rows[0]
    if (row === undefined) return undefined
    if (row.xid !== undefined) await options.afterCommit?.(BigInt(row.xid))
    const { xid: _xid, ...product } = row
    return normalize(product as Product)
  }

  const product = async (req: IncomingMessage, res: ServerResponse, rawId: string, query: string | undefined): Promise<void> => {
    const method = req.method ?? ''
    if (method === 'OPTIONS') return allow(res, PRODUCT_METHODS)
    if (!PRODUCT_METHODS.split(', ').includes(method)) throw notAllowed(PRODUCT_METHODS)
    const id = parseId(rawId)
    if (query !== undefined) throw new RequestError(400, 'query', 'empty: the API takes no query parameters', 'the API takes no query parameters')
    if (method === 'GET' || method === 'HEAD') {
      const tags = PRODUCT_ENTRY.tags(id)
      const found = !caching ? await loadProduct(db, id) : await readProduct(cache, db, id)
      if (found === null) return send(res, 404, { error: 'not found' }, cacheHeaders({ preset: 'api', ttl: '10s', tags }), method === 'HEAD')
      return send(res, 200, found, cacheHeaders({ preset: 'api', ttl: TTL, grace: GRACE, tags, version: found.version }), method === 'HEAD')
    }
    if (method === 'DELETE') {
      const { rows } = await db.query<Row>(`delete from products where id = $1 returning ${COLUMNS}, pg_current_xact_id()::text as xid`, [id])
      if ((await committed(rows)) === undefined) return send(res, 404, { error: 'not found' }, NO_STORE)
      res.writeHead(204, NO_STORE)
      return void res.end()
    }
    // Everything is checked before the database is touched: a refused write writes nothing.
    const patch = parseProductPatch(await readJsonBody(req))
    const { rows } = await db.query<Row>(`update products set
        name = coalesce($2, name), price_cents = coalesce($3, price_cents), stock = coalesce($4, stock),
        popularity = coalesce($5, popularity), version = version + 1, updated_at = now()
      where id = $1 returning ${COLUMNS}, pg_current_xact_id()::text as xid`,
    [id, patch.name ?? null, patch.price_cents ?? null, patch.stock ?? null, patch.popularity ?? null])
    const row = await committed(rows)
    if (row === undefined) return send(res, 404, { error: 'not found' }, NO_STORE)
    return send(res, 200, row, NO_STORE)
  }

  const list = async (req: IncomingMessage, res: ServerResponse, query: string | undefined): Promise<void> => {
    const method = req.method ?? ''
    if (method === 'OPTIONS') return allow(res, LIST_METHODS)
    if (!LIST_METHODS.split(', ').includes(method)) throw notAllowed(LIST_METHODS)
    if (method === 'POST') {
      if (query !== undefined) throw new RequestError(400, 'query', 'empty: POST takes no query parameters', 'POST takes no query parameters')
      const fields = parseNewProduct(await readJsonBody(req))
      const { rows } = await db.query<Row>(`insert into products (id, name, price_cents, stock, popularity)
        values (nextval('products_id_seq'), $1, $2, $3, $4) returning ${COLUMNS}, pg_current_xact_id()::text as xid`,
      [fields.name, fields.price_cents, fields.stock, fields.popularity ?? 0])
      const row = await committed(rows)
      return send(res, 201, row, { ...NO_STORE, location: `/api/products/${row?.id}` })
    }
    const top = parseTop(query)
    // One entry per N, tagged `products`: any product change (capture invalidates the tag) drops it.
    const loadTop = async (): Promise<Product[]> => {
      const { rows } = await db.query<Product>(`select ${COLUMNS} from products order by popularity desc, id limit $1`, [top])
      return rows.map(normalize)
    }
    const products = caching ? await cache.getOrSet(`products:top:${top}`, loadTop, { tags: ['products'], ttl: TTL, grace: GRACE }) : await loadTop()
    return send(res, 200, products, cacheHeaders({ preset: 'api', ttl: TTL, grace: GRACE, tags: ['products'] }), method === 'HEAD')
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
    if (path === '/api/products') return list(req, res, query)
    if (client.serves(path)) return client.handle(req, res, path)
    if (path === '/.stack/stats') {
      const whole = req.method === 'GET' || req.method === 'HEAD' ? await options.statsOf?.() : undefined
      return readOnly(req, res, (head) => send(res, 200, whole ?? { cache: cache.stats(), db: queries.counts(), ...(options.stats?.() ?? {}) }, NO_STORE, head))
    }
    if (path === '/') {
      return readOnly(req, res, (head) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'public, s-maxage=300', 'x-content-type-options': 'nosniff' })
        res.end(head ? undefined : ['tiercache demo catalog', '',
          'GET     /api/products/:id      a product (through tiercache; cacheable by the edge for 5 min, purged on change)',
          'GET     /api/products?top=N    the N most popular products (1 to 100; any product change invalidates it)',
          'POST    /api/products          Content-Type: application/json, {"name": "Lamp", "price_cents": 999, "stock": 5}',
          'PUT     /api/products/:id      Content-Type: application/json, {"price_cents": 999}: commits; capture invalidates every tier and the edge',
          '                               (PUT and PATCH both update the fields given: name, price_cents, stock, popularity)',
          'DELETE  /api/products/:id',
          'GET     /.stack/stats          cache, capture and edge counters',
          'GET     /demo                  the browser layer: a product page whose price changes live (service worker + event stream)',
          'GET     /_tiercache/events?tags=product:1,products   invalidations of those tags, as Server-Sent Events', ''].join('\n'))
      })
    }
    send(res, 404, { error: 'not found' }, NO_STORE, req.method === 'HEAD')
  }

  const server = createServer((req, res) => {
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
  server.on('close', () => client.close())
  return server
}

/** Numbers as numbers (`bigint` columns arrive as strings from pg), the timestamp as ISO text. */
function normalize(row: Product): Product {
  const updated = row.updated_at as unknown
  return { ...row, version: Number(row.version), updated_at: updated instanceof Date ? updated.toISOString() : String(updated) }
}

/** `top=N`, N an integer 1..100, and nothing else in the query. */
function parseTop(query: string | undefined): number {
  const match = query === undefined ? null : /^top=([1-9]\d{0,2})$/.exec(query)
  const top = match === null ? NaN : Number(match[1])
  if (!(top <= MAX_TOP)) throw new RequestError(400, 'top', `the query top=N, N an integer from 1 to ${MAX_TOP}`)
  return top
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
