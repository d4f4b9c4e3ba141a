import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Histogram, RELATIVE_ERROR } from '../../src/loadgen/histogram.js'
import { LoadOptionError, parseLoadOptions } from '../../src/loadgen/load-options.js'
import type { LoadSpec } from '../../src/loadgen/load-spec.js'
import { runLoad } from '../../src/loadgen/run-load.js'
import { snapshot, stackDelta } from '../../src/loadgen/stack-stats.js'
import { summarize } from '../../src/loadgen/summary.js'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve) })))
})

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const spec = (target: string, over: Partial<LoadSpec>): LoadSpec => ({
  ...parseLoadOptions({ target, 'write-target': target }), ...over,
})

/** The server's own account of what it received, to hold the generator's counts against. */
function countingServer(): { counts: { requests: number; patches: number; byStatus: Map<number, number>; byId: Map<number, number> }; handler: (req: IncomingMessage, res: ServerResponse) => void } {
  const counts = { requests: 0, patches: 0, byStatus: new Map<number, number>(), byId: new Map<number, number>() }
  return {
    counts,
    handler: (req, res) => {
      counts.requests++
      const id = Number(/^\/api\/products\/(\d+)$/.exec(req.url ?? '')?.[1])
      counts.byId.set(id, (counts.byId.get(id) ?? 0) + 1)
      if (req.method === 'PATCH') counts.patches++
      // Every 10th request fails, every 7th is not found: the generator must sort them by class.
      const status = counts.requests % 10 === 0 ? 503 : counts.requests % 7 === 0 ? 404 : 200
      counts.byStatus.set(status, (counts.byStatus.get(status) ?? 0) + 1)
      req.resume()
      req.on('end', () => { res.writeHead(status, { 'content-type': 'application/json' }); res.end('{}') })
    },
  }
}

describe('tiercache loadgen against a local server', () => {
  it('open loop: sends exactly rate x duration requests and counts statuses, writes and keys as the server saw them', async () => {
    const { counts, handler } = countingServer()
    const target = await serve(handler)
    const result = await runLoad(spec(target, { mode: 'open', rate: 1000, durationMs: 2000, keys: 100, zipf: 1, writeShare: 0.2, connections: 32 }))

    expect(result.sent).toBe(2000)
    expect(result.completed).toBe(2000)
    expect(counts.requests).toBe(2000)
    expect(result.statuses).toEqual(Object.fromEntries([...counts.byStatus].map(([k, v]) => [String(k), v])))
    expect(result.statusClasses['5xx']).toBe(counts.byStatus.get(503))
    expect(result.statusClasses['4xx']).toBe(counts.byStatus.get(404))
    expect(result.errors).toEqual({ timeouts: 0, connection: {} })
    expect(result.writes).toBe(counts.patches)
    expect(result.reads + result.writes).toBe(2000)
    // Write share: 20% of 2000 has a standard deviation of ~18 requests; 5 of them is the tolerance.
    expect(Math.abs(result.writes - 400)).toBeLessThan(5 * Math.sqrt(2000 * 0.2 * 0.8))
    expect(result.latency.count).toBe(2000)

    // Zipf 1.0 over 100 keys: P(k) = 1 / (k H_100). A loose chi-square over rank groups (13 degrees
    // of freedom; 60 is far beyond the 1e-6 tail) and the ordering of the head.
    const h = Array.from({ length: 100 }, (_, i) => 1 / (i + 1)).reduce((a, b) => a + b, 0)
    const groups = [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [7, 7], [8, 8], [9, 9], [10, 10], [11, 20], [21, 50], [51, 100]]
    let chi = 0
    for (const [lo, hi] of groups as [number, number][]) {
      let expected = 0
      let seen = 0
      for (let k = lo; k <= hi; k++) {
        expected += 2000 / (k * h)
        seen += counts.byId.get(k) ?? 0
      }
      chi += (seen - expected) ** 2 / expected
    }
    expect(chi).toBeLessThan(60)
    expect(counts.byId.get(1)!).toBeGreaterThan(counts.byId.get(2)!)
    expect(counts.byId.get(2)!).toBeGreaterThan(counts.byId.get(10)!)
    expect([...counts.byId.keys()].every((k) => k >= 1 && k <= 100)).toBe(true)
  })

  it('closed loop: every request sent is accounted for, the server counts the same', async () => {
    const { counts, handler } = countingServer()
    const target = await serve(handler)
    const result = await runLoad(spec(target, { mode: 'closed', connections: 4, durationMs: 1000, keys: 10, writeShare: 0 }))
    expect(result.completed).toBe(result.sent)
    expect(result.completed).toBe(counts.requests)
    expect(result.writes).toBe(0)
    expect(counts.patches).toBe(0)
    expect(result.completed).toBeGreaterThan(0)
  })

  it('open loop: a server that stalls for one second once shows the stall in p99 and max (no coordinated omission)', async () => {
    let received = 0
    let stalledUntil = 0
    let stalls = 0
    const target = await serve((req, res) => {
      received++
      // The 200th request starts a one-second stall: everything arriving meanwhile waits for its end.
      if (received === 200) {
        stalledUntil = Date.now() + 1000
        stalls++
      }
      const wait = stalledUntil - Date.now()
      const answer = (): void => { res.writeHead(200); res.end('ok') }
      if (wait > 0) setTimeout(answer, wait)
      else answer()
      req.resume()
    })
    const result = await runLoad(spec(target, { mode: 'open', rate: 200, durationMs: 3000, keys: 10, connections: 16 }))
    expect(stalls).toBe(1)
    expect(result.completed).toBe(600)
    // The request that started the stall waited 1 s on the server alone; requests scheduled during
    // the stall (about a third of the run) waited for its end from their scheduled time.
    expect(result.latency.max / 1000).toBeGreaterThanOrEqual(1000 * (1 - RELATIVE_ERROR) - 5)
    expect(result.latency.quantile(0.99) / 1000).toBeGreaterThanOrEqual(800)
    expect(result.latency.quantile(0.9) / 1000).toBeGreaterThanOrEqual(300)
  })

  it('counts refused connections as connection errors, by code', async () => {
    const target = await serve(() => {})
    await new Promise((resolve) => { const s = servers.pop()!; s.close(resolve) })
    const result = await runLoad(spec(target, { mode: 'open', rate: 100, durationMs: 500, keys: 10 }))
    expect(result.completed).toBe(50)
    expect(result.errors.connection).toEqual({ ECONNREFUSED: 50 })
    expect(summarize(result, stackDelta({ app: { unavailable: 'x' }, edge: { unavailable: 'y' } }, { app: { unavailable: 'x' }, edge: { unavailable: 'y' } }, 1)).errors.total).toBe(50)
  })
})

describe('loadgen layer counters', () => {
  it('reads the catalog and edge stats before and after and reports per-layer deltas; an unreachable source is named', async () => {
    let step = 0
    const app = await serve((req, res) => {
      const s = step
      const body = {
        cache: { l1: { hits: 100 + 90 * s, misses: 10 + 10 * s }, l2: { hits: 5 + 8 * s, misses: 5 + 2 * s, errors: 0, timeouts: 0 } },
        db: { queries: 7 + 20 * s, reads: 5 + 16 * s },
        edge: { requests: 1000 * s, hits: 900 * s, misses: 100 * s, passes: 0 },
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    })
    const before = await snapshot({ app, edgeAdmin: undefined })
    step = 1
    const after = await snapshot({ app, edgeAdmin: undefined })
    const delta = stackDelta(before, after, 2)
    expect(delta.edge).toEqual({ requests: 1000, hits: 900, misses: 100, passes: 0, hitRatio: 0.9 })
    expect(delta.l1).toEqual({ hits: 90, misses: 10, hitRatio: 0.9 })
    expect(delta.l2).toEqual({ hits: 8, misses: 2, hitRatio: 0.8, errors: 0 })
    expect(delta.db).toEqual({ queries: 20, perSecond: 10, reads: 16, readsPerSecond: 8 })

    const gone = await snapshot({ app, edgeAdmin: 'http://127.0.0.1:1' })
    expect(gone.edge).toEqual({ unavailable: expect.stringMatching(/unreachable \(ECONNREFUSED\)/) })
    const noApp = await snapshot({ app: 'http://127.0.0.1:1', edgeAdmin: undefined })
    expect('unavailable' in noApp.app && 'unavailable' in noApp.edge).toBe(true)
  })
})

describe('loadgen options and histogram', () => {
  it('parses the options and refuses bad ones with the option named', () => {
    expect(parseLoadOptions({ rate: '500', writes: '5%', duration: '2m', zipf: '0.8' })).toMatchObject({ mode: 'open', rate: 500, writeShare: 0.05, durationMs: 120_000, zipf: 0.8, target: 'http://127.0.0.1:8080' })
    expect(parseLoadOptions({})).toMatchObject({ mode: 'closed', connections: 64, durationMs: 30_000 })
    for (const [values, flag] of [[{ rate: '0' }, '--rate'], [{ writes: '120%' }, '--writes'], [{ duration: '30' }, '--duration'], [{ zipf: '-1' }, '--zipf'],
      [{ keys: '0' }, '--keys'], [{ target: 'ftp://x' }, '--target'], [{ target: 'http://x/api' }, '--target'], [{ connections: '1.5' }, '--connections']] as const) {
      expect(() => parseLoadOptions(values)).toThrow(LoadOptionError)
      expect(() => parseLoadOptions(values)).toThrow(flag)
    }
  })

  it('histogram quantiles are within the stated relative error of the exact ones', () => {
    const h = new Histogram()
    const values: number[] = []
    let x = 7
    for (let i = 0; i < 10_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      const v = 50 + (x % 2_000_000)
      values.push(v)
      h.record(v)
    }
    values.sort((a, b) => a - b)
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = values[Math.ceil(q * values.length) - 1]!
      expect(Math.abs(h.quantile(q) - exact) / exact).toBeLessThanOrEqual(RELATIVE_ERROR)
    }
    expect(h.max).toBe(values.at(-1))
    expect(h.min).toBe(values[0])
    const other = new Histogram()
    other.record(5_000_000)
    h.merge(other)
    expect(h.count).toBe(10_001)
    expect(h.max).toBe(5_000_000)
  })
})

describe('loadgen error kinds', () => {
  it('a server that never answers: each request is a timeout, none a status', async () => {
    let received = 0
    const target = await serve((req) => { received++; req.resume() })
    const result = await runLoad(spec(target, { mode: 'open', rate: 20, durationMs: 500, keys: 5, timeoutMs: 300 }))
    expect(result.completed).toBe(10)
    expect(received).toBe(10)
    expect(result.errors).toEqual({ timeouts: 10, connection: {} })
    expect(result.statuses).toEqual({})
  })
})
