/**
 * `tiercache edge --workers N` and `tiercache catalog --workers N` as processes: the workers share
 * one port, a purge through any worker reaches every worker, a worker killed with SIGKILL is
 * replaced while the port keeps serving, the admin listener and /.stack/stats answer for all
 * workers, and SIGTERM leaves no process of the group behind.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { alive, childPids, groupPids, killGroups, tiercacheGroup } from './process-group.js'

const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  killGroups()
  while (closers.length > 0) await closers.pop()!()
})

const TOKEN = 'workers-purge-token-0123456789'

/** An origin that says which edge worker asked (the hop header) and how many fills it answered. */
async function origin(): Promise<string> {
  let fills = 0
  const server = http.createServer((req, res) => {
    fills++
    res.setHeader('cache-control', 'max-age=600')
    res.setHeader('surrogate-key', 'page')
    res.end(JSON.stringify({ worker: req.headers['x-tiercache-hop'], fill: fills }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => { server.close(resolve); server.closeAllConnections() }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** One GET on a connection of its own, so the primary hands each to the next worker. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    }).on('error', reject)
  })
}

/** GETs `url` until every worker answered; the body each one gave first. */
async function onEveryWorker(url: string, workers: number): Promise<Map<string, { worker: string; fill: number; cache: string }>> {
  const seen = new Map<string, { worker: string; fill: number; cache: string }>()
  for (let i = 0; seen.size < workers; i++) {
    if (i > 200) throw new Error(`only ${seen.size} of ${workers} workers answered in 200 requests`)
    const r = await get(url)
    expect(r.status).toBe(200)
    const body = JSON.parse(r.body) as { worker: string; fill: number }
    // Each worker has storage of its own: what it serves, it filled itself.
    if (!seen.has(body.worker)) seen.set(body.worker, { ...body, cache: String(r.headers['x-cache']) })
  }
  return seen
}

async function adminJson<T>(admin: string, name: string): Promise<T> {
  const r = await get(`${admin}/.tiercache/${name}`)
  return JSON.parse(r.body) as T
}

describe('tiercache edge --workers 2', { timeout: 180_000 }, () => {
  it('a purge through one worker reaches every worker; the admin listener sums the workers', async () => {
    const cli = tiercacheGroup(['edge', '--origin', await origin(), '--port', '0', '--admin-port', '0', '--workers', '2', '--id', 'multi'], { TIERCACHE_PURGE_TOKEN: TOKEN })
    const [, url] = await cli.waitFor(/listening on (http:\/\/\S+),.* 2 workers \(multi-1, multi-2\)/)
    const [, admin] = await cli.waitFor(/admin \(metrics, stats, health\) on (http:\/\/\S+)\/\.tiercache\//)

    const before = await onEveryWorker(`${url}/page`, 2)
    expect([...before.keys()].sort()).toEqual(['multi-1', 'multi-2'])
    // Served again from each worker's own storage.
    const hits = await onEveryWorker(`${url}/page`, 2)
    for (const [worker, hit] of hits) {
      expect(hit.cache).toBe('HIT')
      expect(hit.fill).toBe(before.get(worker)!.fill)
    }
    const stats = await adminJson<{ id: string; results: { hit: number; miss: number }; stored: number }>(admin!, 'stats')
    expect(stats.id).toBe('multi')
    expect(stats.stored).toBe(2)
    expect(stats.results.miss).toBeGreaterThanOrEqual(2)
    expect(stats.results.hit).toBeGreaterThanOrEqual(2)

    // One purge, on one connection: one worker applies it and relays it to the other.
    const purge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${url}/.tiercache/purge`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => { body += d.toString() })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      req.end(JSON.stringify({ tags: ['page'] }))
    })
    expect(purge.status, purge.body).toBe(200)
    // Both workers applied a purge (one from the API, one from the relay): a signal, not a sleep.
    await vi.waitFor(async () => { expect((await adminJson<{ purges: number }>(admin!, 'stats')).purges).toBe(2) }, { timeout: 30_000, interval: 100 })
    const newest = Math.max(...[...before.values()].map((b) => b.fill))
    const after = await onEveryWorker(`${url}/page`, 2)
    for (const fresh of after.values()) {
      expect(fresh.cache).toBe('MISS')
      expect(fresh.fill).toBeGreaterThan(newest)
    }
    const metrics = (await get(`${admin}/.tiercache/metrics`)).body
    expect(metrics).toMatch(/tiercache_edge_requests_total\{result="miss"\} [4-9]/)

    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    expect(groupPids(cli.pid)).toEqual([])
  })

  it('a worker killed with SIGKILL is restarted (logged, with a back-off) and the port keeps serving', async () => {
    const cli = tiercacheGroup(['edge', '--origin', await origin(), '--port', '0', '--admin-port', '0', '--workers', '2'], { TIERCACHE_PURGE_TOKEN: TOKEN })
    const [, url] = await cli.waitFor(/listening on (http:\/\/\S+),/)
    const [, admin] = await cli.waitFor(/admin \(metrics, stats, health\) on (http:\/\/\S+)\/\.tiercache\//)
    const health = await adminJson<{ workers: { pid: number; serving: boolean; restarts: number }[] }>(admin!, 'health')
    const pids = health.workers.map((w) => w.pid)
    expect(pids.sort()).toEqual(childPids(cli.pid).filter((pid) => pids.includes(pid)).sort())
    expect(pids).toHaveLength(2)
    const victim = pids[0]!
    process.kill(victim, 'SIGKILL')
    await vi.waitFor(() => { expect(cli.err()).toMatch(/worker exited; restarting it .*"signal":"SIGKILL","restartInMs":\d+/) }, { timeout: 30_000 })
    // The other worker serves meanwhile: every request is answered.
    for (let i = 0; i < 10; i++) expect((await get(`${url}/page-${i}`)).status).toBe(200)
    const restarted = await vi.waitFor(async () => {
      const h = await adminJson<{ workers: { pid: number; serving: boolean; restarts: number }[] }>(admin!, 'health')
      expect(h.workers.filter((w) => w.serving)).toHaveLength(2)
      expect(h.workers.reduce((n, w) => n + w.restarts, 0)).toBe(1)
      return h.workers.map((w) => w.pid)
    }, { timeout: 120_000, interval: 200 })
    expect(restarted).not.toContain(victim)
    expect(alive(victim)).toBe(false)
    // Both workers, the new one included, answer on the port.
    const answered = new Set<string>()
    for (let i = 0; answered.size < 2 && i < 200; i++) answered.add(String((await get(`${url}/.tiercache/health`, { authorization: `Bearer ${TOKEN}` })).body))
    expect(answered.size).toBe(2)

    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    expect(groupPids(cli.pid)).toEqual([])
  })

  it('--workers is checked: a usage mistake exits 2 with one line', async () => {
    const cli = tiercacheGroup(['edge', '--origin', 'http://127.0.0.1:1', '--workers', 'many'])
    const exit = await cli.exited
    expect(exit.code).toBe(2)
    expect(cli.err()).toContain('--workers')
  })
})

describe('tiercache catalog --workers 2', { timeout: 180_000 }, () => {
  it('serves from both workers, a write is read back from every worker, /.stack/stats sums them, SIGTERM stops them all', async () => {
    const cli = tiercacheGroup(['catalog', '--port', '0', '--products', '20', '--workers', '2'], { REDIS_URL: undefined, DATABASE_URL: undefined })
    const [, url] = await cli.waitFor(/listening on (http:\/\/\S+)\/api\/products\/1/)
    await cli.waitFor(/workers\s+2 processes/)
    for (let i = 0; i < 6; i++) expect(JSON.parse((await get(`${url}/api/products/3`)).body)).toMatchObject({ id: 3, version: 1 })
    const write = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${url}/api/products/3`, { method: 'PATCH', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => { body += d.toString() })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      req.end('{"price_cents":4242}')
    })
    expect(write.status, write.body).toBe(200)
    // Answered once capture (in the primary) published the invalidation to every worker's L1.
    for (let i = 0; i < 6; i++) expect(JSON.parse((await get(`${url}/api/products/3`)).body)).toMatchObject({ id: 3, version: 2, price_cents: 4242 })
    const stats = JSON.parse((await get(`${url}/.stack/stats`)).body) as { workers: number; cache: { l1: { hits: number; misses: number } };
      capture: { published: number; active: boolean }; db: { queries: number; reads: number } }
    expect(stats.workers).toBe(2)
    // 12 reads (and this process's stats read none): every one counted, whichever worker served it.
    expect(stats.cache.l1.hits + stats.cache.l1.misses).toBe(12)
    expect(stats.capture).toMatchObject({ active: true, published: 1 })
    // Every L1 miss (no Redis here) was a select in some worker; the write added its statements.
    expect(stats.db.reads).toBeGreaterThanOrEqual(stats.cache.l1.misses)
    expect(stats.db.queries).toBeGreaterThan(stats.db.reads)

    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    expect(groupPids(cli.pid)).toEqual([])
  })
})
