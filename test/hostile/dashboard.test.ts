import http from 'node:http'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { silentLogger } from '../../src/core/logger.js'
import { startDashboard } from '../../src/dashboard/dashboard.js'
import type { Dashboard } from '../../src/dashboard/dashboard.js'
import { startStack } from '../../src/stack/start-stack.js'
import type { Stack } from '../../src/stack/start-stack.js'
import { freshNamespace } from '../helpers/namespace.js'

const PRODUCTS = 50
let stack: Stack
let dashboard: Dashboard
let port: number

beforeAll(async () => {
  stack = await startStack({ port: 0, appPort: 0, products: PRODUCTS, logger: silentLogger })
  dashboard = await startDashboard({ ...stack, products: PRODUCTS })
  port = Number(new URL(dashboard.url).port)
}, 120_000)

afterAll(async () => {
  await dashboard?.close()
  await stack?.close()
})

/** A raw request: any Host, any header, any body (fetch would refuse to send some of these). */
function request(method: string, path: string, options: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
const json = { 'content-type': 'application/json' }
const post = (path: string, body: unknown, headers: Record<string, string> = json) => request('POST', path, { headers, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('dashboard: hostile input gets a 4xx and changes nothing', () => {
  it('refuses a foreign Host (DNS rebinding) and a cross-site control', async () => {
    expect((await request('GET', '/', { headers: { host: 'attacker.example' } })).status).toBe(421)
    expect((await post('/api/fault', { target: 'database', mode: 'fail' }, { ...json, host: `evil.example:${port}` })).status).toBe(421)
    expect((await post('/api/fault', { target: 'database', mode: 'fail' }, { ...json, origin: 'http://attacker.example' })).status).toBe(403)
    // A cross-site form can send text/plain without a preflight: refused.
    expect((await post('/api/fault', JSON.stringify({ target: 'database', mode: 'fail' }), { 'content-type': 'text/plain' })).status).toBe(415)
    expect((await post('/api/fault', JSON.stringify({ target: 'database', mode: 'fail' }), {})).status).toBe(415)
    expect((await request('GET', '/', { headers: { host: `localhost:${port}` } })).status).toBe(200)
  })

  it('refuses bodies that are too large, not JSON, or not an object', async () => {
    expect((await post('/api/purge', { tag: 'x'.repeat(2000) })).status).toBe(413)
    // Chunked, so no Content-Length announces it.
    const big = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/purge', headers: { host: `127.0.0.1:${port}`, ...json, 'transfer-encoding': 'chunked' }, agent: false },
        (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      for (let i = 0; i < 10; i++) req.write('x'.repeat(500))
      req.end()
    })
    expect(big).toBe(413)
    expect((await post('/api/purge', '{"tag":')).status).toBe(400)
    expect((await post('/api/purge', '[1,2]')).status).toBe(400)
    expect((await post('/api/purge', 'null')).status).toBe(400)
  })

  it('refuses fields out of range, of the wrong type, or unknown', async () => {
    const refused = [
      ['/api/load', { rate: 0, skew: 1, duration: 10 }],
      ['/api/load', { rate: 1e9, skew: 1, duration: 10 }],
      ['/api/load', { rate: '100', skew: 1, duration: 10 }],
      ['/api/load', { rate: 1.5, skew: 1, duration: 10 }],
      ['/api/load', { rate: 10, skew: -1, duration: 10 }],
      ['/api/load', { rate: 10, skew: 1, duration: 1e6 }],
      ['/api/load', { rate: 10, skew: 1 }],
      ['/api/load', { rate: 10, skew: 1, duration: 10, url: 'http://elsewhere/' }],
      ['/api/update', { id: 0 }],
      ['/api/update', { id: PRODUCTS + 1 }],
      ['/api/update', { id: '1' }],
      ['/api/update', { id: 1, price_cents: -5 }],
      ['/api/purge', { tag: '' }],
      ['/api/purge', { tag: 'two words' }],
      ['/api/purge', { tag: 'x'.repeat(201) }],
      ['/api/purge', { tag: ['a'] }],
      ['/api/purge', { tag: 'caf\u00e9' }],
      // Redis faults: the target is known, a mode must be one of ok, slow, stopped (checked before
      // whether this stack may touch its Redis).
      ['/api/fault', { target: 'redis', mode: 'down' }],
      ['/api/fault', { target: 'redis', mode: 'STOPPED' }],
      ['/api/fault', { target: 'redis', mode: 'fail' }],
      ['/api/fault', { target: 'redis', mode: 1 }],
      ['/api/fault', { target: 'redis', mode: ['stopped'] }],
      ['/api/fault', { target: 'redis', mode: null }],
      ['/api/fault', { target: 'redis' }],
      ['/api/fault', { target: 'redis', mode: 'stopped', port: 6379 }],
      ['/api/fault', { target: ['redis'], mode: 'stopped' }],
      ['/api/fault', { target: 'Redis', mode: 'stopped' }],
      ['/api/fault', { target: 'database', mode: 'down' }],
      ['/api/fault', { target: 'origin', mode: 'fail' }],
      ['/api/fault', { target: 'database', mode: 'fail', __proto__: { x: 1 }, constructor: 1 }],
    ] as const
    for (const [path, body] of refused) {
      const r = await post(path, body)
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400)
      expect(JSON.parse(r.body)).toMatchObject({ ok: false })
    }
  })

  it('refuses Redis faults with 409 and a typed error when the stack has no Redis (L1 only), and shows the controls off with the reason', async () => {
    for (const mode of ['ok', 'slow', 'stopped']) {
      const r = await post('/api/fault', { target: 'redis', mode })
      expect(r.status, mode).toBe(409)
      expect(JSON.parse(r.body)).toMatchObject({ ok: false, code: 'E_NO_REDIS', field: 'target', error: expect.stringContaining('without Redis') })
    }
    const state = JSON.parse((await request('GET', '/api/state')).body) as { status: { redisFaults: unknown } }
    expect(state.status.redisFaults).toEqual({ available: false, reason: expect.stringContaining('L1 only') })
  })

  it('refuses Redis faults with 409 and a typed error when Redis comes from REDIS_URL (it may be shared): it is never stopped or slowed', async () => {
    const withUrl = await startStack({ port: 0, appPort: 0, products: 5, redisUrl: inject('redisUrl'), namespace: freshNamespace('dash-hostile'), logger: silentLogger })
    const other = await startDashboard({ ...withUrl, products: 5 })
    try {
      const otherPort = Number(new URL(other.url).port)
      for (const mode of ['ok', 'slow', 'stopped']) {
        const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: otherPort, method: 'POST', path: '/api/fault', headers: { host: `127.0.0.1:${otherPort}`, ...json }, agent: false }, (res) => {
            let body = ''
            res.on('data', (c: Buffer) => { body += c.toString() })
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
          })
          req.on('error', reject)
          req.end(JSON.stringify({ target: 'redis', mode }))
        })
        expect(r.status, mode).toBe(409)
        expect(JSON.parse(r.body)).toMatchObject({ ok: false, code: 'E_REDIS_NOT_OWNED', error: expect.stringContaining('REDIS_URL') })
      }
      const state = await (await fetch(`${other.url}/api/state`)).json() as { status: { faults: unknown; redisFaults: unknown } }
      expect(state.status.faults).toEqual({ database: 'ok', origin: 'up', redis: 'unavailable' })
      expect(state.status.redisFaults).toEqual({ available: false, reason: expect.stringContaining('REDIS_URL') })
      // The shared Redis still answers through the stack's L2.
      expect(withUrl.cache.stats().l2?.breaker).toBe('closed')
    } finally {
      await other.close()
      await withUrl.close()
    }
  })

  it('answers unknown paths, wrong methods and path tricks with 404 or 405', async () => {
    expect((await request('GET', '/api/load')).status).toBe(405)
    expect((await request('DELETE', '/')).status).toBe(405)
    expect((await post('/api/nothing', {})).status).toBe(404)
    for (const path of ['/nothing', '/assets/../package.json', '/assets/%2e%2e%2fpackage.json', '/assets/uPlot.iife.min.js/..', '/assets/constructor', '/assets/__proto__', '//etc/passwd']) {
      expect((await request('GET', path)).status, path).toBe(404)
    }
    expect((await request('GET', '/assets/uPlot.iife.min.js')).status).toBe(200)
  })

  it('holds at most 32 live clients', async () => {
    const open: http.ClientRequest[] = []
    const statuses: number[] = []
    for (let i = 0; i < 33; i++) {
      statuses.push(await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/events', headers: { host: `127.0.0.1:${port}` }, agent: false }, (res) => {
          resolve(res.statusCode ?? 0)
          if (res.statusCode !== 200) res.resume()
        })
        req.on('error', reject)
        req.end()
        open.push(req)
      }))
    }
    expect(statuses.slice(0, 32).every((s) => s === 200)).toBe(true)
    expect(statuses[32]).toBe(429)
    for (const req of open) req.destroy()
  })

  it('listens on loopback only: a host other machines reach is refused before anything listens', async () => {
    // The Host check stops browsers, not a client elsewhere that sends `Host: 127.0.0.1:<port>`.
    expect((await request('GET', '/api/state', { headers: { host: `127.0.0.1:${port}` } })).status).toBe(200)
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'example.com']) {
      const started = startDashboard({ ...stack, products: PRODUCTS }, { host })
      // Without the refusal it would be listening: close it so the run leaves nothing open.
      void started.then((d) => d.close(), () => {})
      await expect(started, host).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    }
    for (const host of ['127.0.0.1', 'localhost', '127.0.0.2']) {
      const other = await startDashboard({ ...stack, products: PRODUCTS }, { host })
      await other.close()
    }
  })

  it('changed nothing: no fault injected, no load running, the product untouched', async () => {
    const state = JSON.parse((await request('GET', '/api/state')).body) as { status: { faults: unknown; load: { running: boolean } } }
    expect(state.status.faults).toEqual({ database: 'ok', origin: 'up', redis: 'unavailable' })
    expect(state.status.load.running).toBe(false)
    const product = await (await fetch(`${stack.appUrl}/api/products/1`)).json() as { version: number }
    expect(product.version).toBe(1)
  })

  it('closes with a load in flight, and the stack still answers', async () => {
    expect((await post('/api/load', { rate: 500, skew: 1, duration: 60 })).status).toBe(200)
    for (;;) {
      const state = JSON.parse((await request('GET', '/api/state')).body) as { status: { load: { sent: number } } }
      if (state.status.load.sent > 0) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    await dashboard.close()
    await expect(request('GET', '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect((await fetch(`${stack.edgeUrl}/api/products/2`)).status).toBe(200)
  })
})
