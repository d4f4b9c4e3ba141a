/**
 * `npm run bench:boundaries`: what a caller pays when Redis is refused, hung, or stopped mid-run,
 * from the first call of a cache used the moment it is created. Each library gets the same
 * failure in the same run: tiercache, bentocache (L1 + Redis L2) and cache-manager with
 * @keyv/redis (the Node libraries users pick today).
 *
 *   npm run bench:boundaries -- [--calls 300] [--rounds 3] [--timeout-ms 100]
 *
 * Phases, each on a fresh cache per library and round:
 * - refused: Redis URL on a closed port;
 * - hung: a TCP server that accepts connections and never answers;
 * - stopped: a private redis-server that answers `--calls` calls, then is killed; `--calls` more.
 * Each call is a getOrSet of a key not used before (so it misses L1 and goes to L2 or the
 * fallback) with a loader that answers at once. Printed per phase
 * and library: the first call, p50 / p99 / max over the calls, and calls that threw (a cache's
 * failure reaching the caller). Calls are capped at 10 s and phases at 20 s so a hanging peer
 * cannot stall the run (the calls a phase did not get to are counted).
 * Targets for tiercache: 0 errors, first call <= l2.timeout + 10 ms, p99 <= 5 ms.
 */
import { EventEmitter } from 'node:events'
import { createServer } from 'node:net'
import type { Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import KeyvRedis from '@keyv/redis'
import { Keyv } from 'keyv'
import { createCache } from '../src/index.js'
import { freePort, startRedisServer } from '../test/services/services.js'
import { median } from './lib/harness.js'

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    'timeout-ms': { type: 'string', default: '100' },
  },
})
const CALLS = Number(args.calls)
const ROUNDS = Number(args.rounds)
const TIMEOUT_MS = Number(args['timeout-ms'])
// The peers' clients add listeners per reconnect attempt; their warnings are noise here.
EventEmitter.defaultMaxListeners = 100
const CAP_MS = 10_000
const PHASE_CAP_MS = 20_000

/** A cache as the bench drives it: getOrSet and close. */
interface Subject {
  getOrSet(key: string, load: () => Promise<string>): Promise<string>
  close(): Promise<void>
}

type Library = 'tiercache' | 'bentocache' | 'cache-manager'
const LIBRARIES: readonly Library[] = ['tiercache', 'bentocache', 'cache-manager']

function open(library: Library, url: string, namespace: string): Subject {
  switch (library) {
    case 'tiercache': {
      const cache = createCache({ namespace, logger: false, ttl: '1m', l2: { redis: url, timeout: TIMEOUT_MS } })
      return { getOrSet: (key, load) => cache.getOrSet(key, load), close: () => cache.close() }
    }
    case 'bentocache': {
      const bento = new BentoCache({
        default: 'c', prefix: namespace, timeout: TIMEOUT_MS,
        stores: { c: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })).useL2Layer(redisDriver({ connection: { ...redisParts(url), maxRetriesPerRequest: 0, connectTimeout: 2_000 } })) },
      })
      return { getOrSet: (key, load) => bento.getOrSet({ key, factory: load, ttl: '1m' }), close: () => bento.disconnectAll() }
    }
    case 'cache-manager': {
      const keyv = new KeyvRedis(url, { throwOnConnectError: false, throwOnErrors: false, connectionTimeout: 2_000 })
      const store = new Keyv({ store: keyv, namespace })
      store.on('error', () => {})
      const manager = createCacheManager({ stores: [store] })
      return { getOrSet: (key, load) => manager.wrap(key, load, 60_000), close: async () => { await manager.disconnect().catch(() => {}) } }
    }
  }
}

function redisParts(url: string): { host: string; port: number } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port) }
}

interface PhaseResult { first: number; latencies: number[]; errors: number; skipped?: number }

/**
 * Runs `calls` getOrSet calls one after the other; the first is timed on its own. A phase stops
 * after PHASE_CAP_MS (a peer that waits out long timeouts on every call would take hours); the
 * calls not made are reported.
 */
async function drive(subject: Subject, calls: number, result: PhaseResult, timeFirst: boolean, prefix: string): Promise<void> {
  const deadline = performance.now() + PHASE_CAP_MS
  for (let i = 0; i < calls; i++) {
    if (performance.now() > deadline) {
      result.skipped = calls - i
      return
    }
    // A new key every call: each one misses L1 and has to go through L2 (or the fallback).
    const key = `${prefix}:${i}`
    const start = performance.now()
    try {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        subject.getOrSet(key, () => Promise.resolve(`v${i}`)),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('capped')), CAP_MS) }),
      ]).finally(() => clearTimeout(timer))
    } catch {
      result.errors++
    }
    const ms = performance.now() - start
    if (timeFirst && i === 0) result.first = ms
    else result.latencies.push(ms)
  }
}

async function refused(library: Library): Promise<PhaseResult> {
  const port = await freePort()
  const subject = open(library, `redis://127.0.0.1:${port}`, `bench-b-${process.pid}`)
  const result: PhaseResult = { first: 0, latencies: [], errors: 0 }
  await drive(subject, CALLS, result, true, 'refused')
  await subject.close().catch(() => {})
  return result
}

async function hung(library: Library): Promise<PhaseResult> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const subject = open(library, `redis://127.0.0.1:${port}`, `bench-b-${process.pid}`)
  const result: PhaseResult = { first: 0, latencies: [], errors: 0 }
  await drive(subject, CALLS, result, true, 'hung')
  await Promise.race([subject.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))])
  for (const s of sockets) s.destroy()
  await new Promise<void>((r) => server.close(() => r()))
  return result
}

async function stopped(library: Library): Promise<PhaseResult & { up: PhaseResult }> {
  const server = await startRedisServer()
  const subject = open(library, server.url, `bench-b-${process.pid}`)
  const up: PhaseResult = { first: 0, latencies: [], errors: 0 }
  await drive(subject, CALLS, up, true, 'up')
  await server.stop()
  const result: PhaseResult = { first: 0, latencies: [], errors: 0 }
  await drive(subject, CALLS, result, true, 'down')
  await Promise.race([subject.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))])
  return { ...result, up }
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2))

const rows: { phase: string; library: Library; first: number[]; p50: number[]; p99: number[]; max: number[]; errors: number[]; skipped: number[] }[] = []
function record(phase: string, library: Library, r: PhaseResult): void {
  let row = rows.find((x) => x.phase === phase && x.library === library)
  if (row === undefined) {
    row = { phase, library, first: [], p50: [], p99: [], max: [], errors: [], skipped: [] }
    rows.push(row)
  }
  row.first.push(r.first)
  row.p50.push(percentile(r.latencies, 50))
  row.p99.push(percentile(r.latencies, 99))
  row.max.push(Math.max(...r.latencies))
  row.errors.push(r.errors)
  row.skipped.push(r.skipped ?? 0)
}

console.log(`# Redis refused, hung, stopped: what callers pay\n\nnode ${process.version}, ${CALLS} calls per phase, ${ROUNDS} rounds, ` +
  `cache budget ${TIMEOUT_MS} ms (tiercache l2.timeout, bentocache timeout), calls capped at ${CAP_MS} ms; medians over rounds (min..max)\n`)
for (let round = 0; round < ROUNDS; round++) {
  for (const library of LIBRARIES) {
    record('refused', library, await refused(library))
    record('hung', library, await hung(library))
    const s = await stopped(library)
    record('up (before stop)', library, s.up)
    record('stopped mid-run', library, s)
  }
}
const spread = (v: number[]): string => `${fmt(median(v))} (${fmt(Math.min(...v))}..${fmt(Math.max(...v))})`
console.log('| phase | library | first call ms | p50 ms | p99 ms | max ms | calls that threw (per round) | calls not made in 20 s |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
for (const r of rows) {
  console.log(`| ${r.phase} | ${r.library} | ${spread(r.first)} | ${spread(r.p50)} | ${spread(r.p99)} | ${spread(r.max)} | ${r.errors.join(', ')} | ${r.skipped.join(', ')} |`)
}
process.exit(0)
