/**
 * The demo catalog app (what `npm start` serves on the app port) attacked over a real socket:
 * values of the wrong type or range, malformed and oversized bodies, wrong content types, unknown
 * fields, ids that are not ids, path tricks and methods it does not serve. Each is refused with a
 * 4xx and a JSON body naming the field and the rule; nothing is written to the database and no
 * invalidation is published; no answer is a 500 carrying internals.
 */
import { request } from 'node:http'
import type { OutgoingHttpHeaders } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { DeliveredMessage } from '../../src/ports/bus.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'

let stack: Stack
let unsubscribe: () => void
const published: DeliveredMessage[] = []
const logged: string[] = []

beforeAll(async () => {
  const log = (context: Record<string, unknown>, message: string): void => { logged.push(`${message} ${JSON.stringify(context)}`) }
  stack = await startStack({ port: 0, appPort: 0, products: 20, logger: { warn: log, error: log } })
  unsubscribe = stack.bus.subscribe({ onMessage: (m) => { published.push(m) }, onGap: () => {} })
}, 180_000) // embedded PostgreSQL starting on a shared machine; the timeout only stops a hang
afterAll(async () => {
  unsubscribe()
  await stack.close()
})
beforeEach(() => { published.length = 0 })

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: Record<string, unknown> | undefined }

/** One request on a fresh connection, the path sent exactly as given (no client-side normalising). */
function call(method: string, path: string, options: { headers?: OutgoingHttpHeaders; body?: string | Buffer; chunks?: Buffer[] } = {}): Promise<Answer> {
  const { hostname, port } = new URL(stack.appUrl)
  return new Promise((resolve, reject) => {
    // Content-Length always set for a body: node's client sends a DELETE's body unframed otherwise.
    const length = options.body === undefined ? {} : { 'content-length': Buffer.byteLength(options.body) }
    const req = request({ host: hostname, port, method, path, headers: { connection: 'close', ...length, ...options.headers }, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let json: Record<string, unknown> | undefined
        try { json = JSON.parse(text) as Record<string, unknown> } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    // The server may answer (413) and close before the whole body is sent: that is the point.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error)
    })
    if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk)
      req.end()
    } else {
      req.end(options.body)
    }
  })
}

const JSON_TYPE = { 'content-type': 'application/json' }
const put = (id: string | number, body: unknown, headers: OutgoingHttpHeaders = JSON_TYPE): Promise<Answer> =>
  call('PUT', `/api/products/${id}`, { headers, body: typeof body === 'string' ? body : JSON.stringify(body) })

async function row(id: number): Promise<{ name: string; price_cents: number; stock: number; version: number }> {
  const { rows } = await stack.db.query<{ name: string; price_cents: number; stock: number; version: string }>(
    'select name, price_cents, stock, version from products where id = $1', [id])
  return { ...rows[0]!, version: Number(rows[0]!.version) }
}

/**
 * Proves that nothing was published by the requests before it: a good write to a sentinel row
 * publishes one invalidation, and the bus delivers in order, so once the sentinel's message is in
 * every earlier one is too.
 */
async function expectNothingPublished(): Promise<void> {
  const sentinel = await put(20, { stock: 1 })
  expect(sentinel.status).toBe(200)
  for (let i = 0; i < 1000 && !published.some((m) => m.keys?.includes('product:20')); i++) await new Promise((r) => setTimeout(r, 5))
  expect(published.map((m) => m.keys)).toEqual([['product:20']])
}

/** The answer is a refusal that names `field`, says the rule, and leaks nothing. */
function expectRefusal(answer: Answer, status: number, field: string): void {
  expect({ status: answer.status, field: answer.json?.field }, answer.text).toEqual({ status, field })
  expect(typeof answer.json?.error).toBe('string')
  expect(typeof answer.json?.rule).toBe('string')
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8')
  expect(answer.headers['cache-control']).toBe('no-store')
  expectNoInternals(answer)
}

function expectNoInternals(answer: Answer): void {
  expect(answer.status).toBeLessThan(500)
  expect(answer.text).not.toMatch(/\bat .+:\d+:\d+|node:internal|\/src\/|syntax error|out of range for type|invalid byte sequence|SQLSTATE|Unexpected token/i)
}

describe('PUT /api/products/:id refuses values it cannot store, and stores nothing', () => {
  it.each([
    ['price_cents', -1], ['price_cents', 1.5], ['price_cents', '999'], ['price_cents', 1e12], ['price_cents', 2 ** 31],
    ['price_cents', null], ['price_cents', true], ['price_cents', [1]], ['price_cents', { cents: 1 }],
    ['stock', -5], ['stock', 0.1], ['stock', '7'], ['stock', Number.MAX_SAFE_INTEGER + 2],
    ['name', ''], ['name', 'x'.repeat(201)], ['name', 42], ['name', 'nul\u0000byte'], ['name', 'bell\u0007'], ['name', 'lone \ud800 surrogate'],
  ])('%s = %j: 400 naming the field, row and version unchanged, no invalidation', async (field, value) => {
    const before = await row(3)
    const answer = await put(3, { [field]: value })
    expectRefusal(answer, 400, field)
    expect(await row(3)).toEqual(before)
    await expectNothingPublished()
  })

  it('one bad field refuses the whole write, good fields included', async () => {
    const before = await row(4)
    expectRefusal(await put(4, { name: 'Fine name', price_cents: -3 }), 400, 'price_cents')
    expect(await row(4)).toEqual(before)
    await expectNothingPublished()
  })

  it.each([['colour', { colour: 'red' }], ['id', { id: 9, price_cents: 5 }], ['version', { version: 99 }],
    ['__proto__', '{"__proto__": {"price_cents": 1}}'], ['updated_at', { updated_at: '2000-01-01' }]])('unknown or read-only field %s: 400', async (field, body) => {
    const before = await row(5)
    const answer = await put(5, body)
    expectRefusal(answer, 400, field)
    expect(answer.json?.rule).toContain('name, price_cents, stock')
    expect(await row(5)).toEqual(before)
    await expectNothingPublished()
  })

  it.each(['{not json', '', '{"price_cents": 1,}', '[1]', 'null', '"text"', '1', '{}', '{"price_cents": 1} trailing'])('body %j: 400', async (body) => {
    const before = await row(6)
    expectRefusal(await put(6, body), 400, 'body')
    expect(await row(6)).toEqual(before)
    await expectNothingPublished()
  })

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], [undefined], ['application/json; charset=latin1'], ['application/jsonx']])(
    'content type %s: 415 naming content-type', async (type) => {
      const before = await row(7)
      const answer = await put(7, { price_cents: 1 }, type === undefined ? {} : { 'content-type': type })
      expectRefusal(answer, 415, 'content-type')
      expect(await row(7)).toEqual(before)
      await expectNothingPublished()
    })

  it('accepts application/json with charset=utf-8 in any case, and PATCH', async () => {
    const before = await row(8)
    const answer = await put(8, { price_cents: 1234 }, { 'content-type': 'Application/JSON; Charset="UTF-8"' })
    expect(answer.status, answer.text).toBe(200)
    expect(answer.json).toMatchObject({ id: 8, price_cents: 1234, version: before.version + 1 })
    const patched = await call('PATCH', '/api/products/8', { headers: JSON_TYPE, body: '{"stock": 0, "name": "Renamed"}' })
    expect(patched.json).toMatchObject({ id: 8, stock: 0, name: 'Renamed', price_cents: 1234, version: before.version + 2 })
    expect(await row(8)).toMatchObject({ price_cents: 1234, stock: 0, name: 'Renamed', version: before.version + 2 })
  })

  it('a body over the limit: 413 whether announced by Content-Length or streamed in chunks', async () => {
    const before = await row(9)
    const big = JSON.stringify({ name: 'x'.repeat(100), pad: 'y'.repeat(64 * 1024) })
    expectRefusal(await put(9, big), 413, 'body')
    const chunks = Array.from({ length: 256 }, () => Buffer.alloc(4096, 0x20))
    expectRefusal(await call('PUT', '/api/products/9', { headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' }, chunks }), 413, 'body')
    expect(await row(9)).toEqual(before)
    await expectNothingPublished()
  })
})

describe('ids and paths', () => {
  it.each(['abc', '-1', '0', '1.5', '007', '1e3', '2147483648', '99999999999999999999', '%31', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', ''])(
    'id %j: 400 naming id, for reads and writes', async (id) => {
      expectRefusal(await call('GET', `/api/products/${id}`), 400, 'id')
      expectRefusal(await put(id, { price_cents: 1 }), 400, 'id')
      await expectNothingPublished()
    })

  it('an id in range that does not exist: 404, and a write to it publishes nothing', async () => {
    expect((await call('GET', '/api/products/2147483647')).status).toBe(404)
    const answer = await put(2147483647, { price_cents: 1 })
    expect(answer.status).toBe(404)
    expectNoInternals(answer)
    await expectNothingPublished()
  })

  it.each(['/api/products/../../etc/passwd', '/../../../etc/passwd', '/api/products/1/../../../package.json', '//evil.example/api/products/1',
    '/api/products/1/', '/api/products', '/api/products/1/extra', '/.stack/../.stack/stats/x', '/%2e%2e/%2e%2e/etc/passwd'])('path %s: a JSON 4xx, nothing served from disk', async (path) => {
    const answer = await call('GET', path)
    expect(answer.status).toBeGreaterThanOrEqual(400)
    expectNoInternals(answer)
    expect(answer.json?.error).toEqual(expect.any(String))
    expect(answer.text).not.toContain('root:')
  })

  it('a query string on the API: 400 (one URL per product, so the edge caches one copy)', async () => {
    expectRefusal(await call('GET', '/api/products/1?nocache=123'), 400, 'query')
  })

  it('a malformed percent-encoding: 400, not a crash', async () => {
    const answer = await call('GET', '/api/products/%E0%A4%A')
    expect(answer.status).toBe(400)
    expectNoInternals(answer)
  })
})

describe('methods', () => {
  it.each([['/api/products/1', 'GET, HEAD, PUT, PATCH, DELETE'], ['/', 'GET, HEAD'], ['/.stack/stats', 'GET, HEAD']])('%s: 405 with Allow for others, 204 with Allow for OPTIONS', async (path, allow) => {
    for (const method of [...(allow.includes('DELETE') ? ['POST'] : ['POST', 'DELETE']), 'TRACE', 'PROPFIND', ...(allow.includes('PUT') ? [] : ['PUT', 'PATCH'])]) {
      const answer = await call(method, path, { headers: JSON_TYPE, body: '{}' })
      expect({ method, status: answer.status, allow: answer.headers.allow }).toEqual({ method, status: 405, allow })
      expect(answer.json?.error).toEqual(expect.any(String))
    }
    const options = await call('OPTIONS', path)
    expect({ status: options.status, allow: options.headers.allow }).toEqual({ status: 204, allow })
    await expectNothingPublished()
  })
})

describe('a failure inside the app', () => {
  it('is a 500 that says nothing of the cause, and the cause goes to the log', async () => {
    await stack.db.query('alter table products rename to products_gone')
    try {
      const answer = await call('GET', '/api/products/11')
      expect(answer.status).toBe(500)
      expect(answer.json).toEqual({ error: 'internal error' })
      expect(answer.headers['cache-control']).toBe('no-store')
    } finally {
      await stack.db.query('alter table products_gone rename to products')
    }
    expect(logged.some((line) => line.includes('products'))).toBe(true)
  })
})
