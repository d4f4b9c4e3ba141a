/**
 * `npm run bench:stack`: what the caching layers save the database, and what they do for latency.
 * The same Zipf 1.0 catalog load (reads and PATCH writes, 95/5 by default) against
 *
 *   on:  the whole architecture, as `tiercache start` runs it: edge → catalog (L1 + Redis L2 + the
 *        Streams bus) → PostgreSQL, change capture invalidating every tier on each write
 *   off: the same catalog with caching off, no edge: every read a PostgreSQL query
 *
 * on the same machine in the same run, each server in a process of its own, the load generator
 * (`tiercache loadgen`'s engine) in this one:
 *
 *   1. warm-up, closed loop, both sides (the cache fills; PostgreSQL's buffers warm)
 *   2. a fixed offered rate both sides sustain, open loop (latency from the timetable)
 *   3. the maximum rate, closed loop, 64 connections
 *   4. the catalog alone (no edge), caching on, maximum rate: its requests per CPU-second (the
 *      app per-core figure `tiercache plan` uses)
 *   5. on, fixed rate, with the private redis-server killed and restarted mid-run: errors (must be
 *      0), and how long until L2 answers again
 *
 * Redis: a PRIVATE redis-server on a free port (never the machine's 6379). PostgreSQL: the machine's
 * server (DATABASE_URL or postgres://postgres@127.0.0.1:5432/test), in a fresh schema dropped after.
 *
 *   npm run bench:stack -- [--rate 400] [--duration 20s] [--max-duration 15s] [--warmup 10s]
 *                          [--products 10000] [--writes 5] [--json]
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { parseDuration } from '../src/core/duration.js'
import { openPostgres } from '../src/db/pg-database.js'
import type { LoadSpec } from '../src/loadgen/load-spec.js'
import { runLoad } from '../src/loadgen/run-load.js'
import { snapshot, stackDelta } from '../src/loadgen/stack-stats.js'
import type { StatsSources } from '../src/loadgen/stack-stats.js'
import { summarize } from '../src/loadgen/summary.js'
import type { LoadSummary } from '../src/loadgen/summary.js'
import { seedCatalog } from '../src/stack/catalog-app.js'
import { freshSchema } from '../test/helpers/pg-schema.js'
import { ensurePostgres, startRedisServer } from '../test/services/services.js'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '400' },
    duration: { type: 'string', default: '20s' },
    'max-duration': { type: 'string', default: '15s' },
    warmup: { type: 'string', default: '10s' },
    products: { type: 'string', default: '10000' },
    writes: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
})
const rate = Number(values.rate)
const durationMs = parseDuration(values.duration, '--duration')
const maxDurationMs = parseDuration(values['max-duration'], '--max-duration')
const warmupMs = parseDuration(values.warmup, '--warmup')
const products = Number(values.products)
const writeShare = Number(values.writes) / 100

const load = (target: string, writeTarget: string, over: Partial<LoadSpec>): LoadSpec => ({
  target, writeTarget, mode: 'open', rate, connections: 64, durationMs, keys: products, zipf: 1, writeShare, timeoutMs: 10_000, seed: 42, ...over,
})

interface Server { child: ChildProcess; urls: { edgeUrl?: string; appUrl: string; edgeAdminUrl?: string } }

function startServer(mode: 'on' | 'off', databaseUrl: string, redisUrl: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/stack-server.ts', mode, databaseUrl, redisUrl, String(products)],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${mode} server exited with ${code}`)))
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ child, urls: JSON.parse(line) as Server['urls'] }))
  })
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * Reads every product once, 32 at a time, with the load generator's request headers (none): the
 * edge keys `/api/*` on Accept and Accept-Language, so a client sending others would fill other entries.
 */
async function sweep(target: string, count: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  let next = 1
  const get = (id: number): Promise<void> => new Promise((resolve, reject) => {
    http.get(`${target}/api/products/${id}`, { agent }, (res) => { res.resume(); res.once('end', resolve) }).once('error', reject)
  })
  const worker = async (): Promise<void> => {
    while (next <= count) await get(next++)
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  agent.destroy()
}

interface Row { phase: string; side: string; summary: LoadSummary; serverCpuS: number }

async function measure(phase: string, side: string, server: Server, spec: LoadSpec, sources: StatsSources): Promise<Row> {
  const cpu = cpuSeconds(server.child.pid!)
  const before = await snapshot(sources)
  const result = await runLoad(spec)
  const after = await snapshot(sources)
  const row = { phase, side, summary: summarize(result, stackDelta(before, after, result.elapsedMs / 1000)), serverCpuS: cpuSeconds(server.child.pid!) - cpu }
  console.error(`  ${phase} / ${side}: ${Math.round(row.summary.throughput)}/s, p99 ${row.summary.latencyMs.p99} ms, errors ${row.summary.errors.total}`)
  return row
}

const rows: Row[] = []
let restart: Record<string, unknown> | undefined
/** True while the Redis-restart phase samples the catalog's L2 state (cleared on the way out, also on failure). */
let polling = false
const pgBase = await ensurePostgres()
const schema = await freshSchema(pgBase.url)
const redisDir = mkdtempSync(join(tmpdir(), 'tiercache-bench-stack-'))
let redis = await startRedisServer({ dir: redisDir })
const redisPort = redis.port
let on: Server | undefined
let off: Server | undefined
const startedAt = new Date().toISOString()
const loadBefore = loadavg()[0]!
try {
  console.error(`bench:stack: seeding ${products} products; private redis-server on port ${redisPort}`)
  const db = await openPostgres(schema.url)
  await seedCatalog(db, products)
  await db.close()
  on = await startServer('on', schema.url, redis.url)
  off = await startServer('off', schema.url, redis.url)
  const onSources: StatsSources = { app: on.urls.appUrl, edgeAdmin: on.urls.edgeAdminUrl }
  const offSources: StatsSources = { app: off.urls.appUrl, edgeAdmin: undefined }
  const edge = on.urls.edgeUrl!

  const onLoad = (over: Partial<LoadSpec>): LoadSpec => load(edge, on!.urls.appUrl, over)
  const offLoad = (over: Partial<LoadSpec>): LoadSpec => load(off!.urls.appUrl, off!.urls.appUrl, over)

  // A service that has run for a while has read its catalog: every product once through the edge
  // (which fills the edge, L1 and Redis), then the same Zipf load on both sides.
  console.error(`bench:stack: warm-up: every product read once through the edge, then ${warmupMs / 1000} s of load on each side`)
  await sweep(edge, products)
  await runLoad(onLoad({ mode: 'closed', durationMs: warmupMs, seed: 7 }))
  await runLoad(offLoad({ mode: 'closed', durationMs: warmupMs, seed: 7 }))

  console.error(`bench:stack: fixed rate ${rate}/s, then maximum rate (interleaved: off, on, on, off)`)
  rows.push(await measure(`fixed ${rate}/s`, 'off', off, offLoad({}), offSources))
  rows.push(await measure(`fixed ${rate}/s`, 'on', on, onLoad({}), onSources))
  rows.push(await measure('max (64 conns)', 'on', on, onLoad({ mode: 'closed', durationMs: maxDurationMs }), onSources))
  rows.push(await measure('max (64 conns)', 'off', off, offLoad({ mode: 'closed', durationMs: maxDurationMs }), offSources))
  rows.push(await measure('max, catalog alone', 'on', on, load(on.urls.appUrl, on.urls.appUrl, { mode: 'closed', durationMs: maxDurationMs }), { app: on.urls.appUrl, edgeAdmin: undefined }))
  await stopServer(off)
  off = undefined

  console.error('bench:stack: Redis killed and restarted mid-run')
  const restartMs = Math.max(durationMs, 20_000)
  const timeline: { t: number; breaker: string; l2Hits: number; l2Errors: number }[] = []
  const t0 = performance.now()
  polling = true
  const poll = (async () => {
    while (polling) {
      const res = await fetch(`${on.urls.appUrl}/.stack/stats`).then((r) => r.json() as Promise<{ cache: { l2?: { hits: number; errors: number; timeouts: number; breaker: string } } }>).catch(() => undefined)
      const l2 = res?.cache.l2
      if (l2 !== undefined) timeline.push({ t: (performance.now() - t0) / 1000, breaker: l2.breaker, l2Hits: l2.hits, l2Errors: l2.errors + l2.timeouts })
      await new Promise((r) => setTimeout(r, 250))
    }
  })()
  const killAt = restartMs * 0.25
  const restartAt = restartMs * 0.5
  const running = measure('fixed, Redis restarted', 'on', on, onLoad({ durationMs: restartMs, seed: 9 }), onSources)
  await new Promise((r) => setTimeout(r, killAt))
  await redis.stop()
  const killedT = (performance.now() - t0) / 1000
  await new Promise((r) => setTimeout(r, restartAt - killAt))
  redis = await startRedisServer({ port: redisPort, dir: redisDir })
  const restartedT = (performance.now() - t0) / 1000
  const row = await running
  polling = false
  await poll
  rows.push(row)
  // Recovered: the breaker closed after the restart and L2 failed no more from then on.
  const finalErrors = timeline.at(-1)?.l2Errors ?? 0
  const recovered = timeline.find((p) => p.t > restartedT && p.breaker === 'closed' && p.l2Errors === finalErrors)
  restart = {
    killedAtS: Number(killedT.toFixed(1)),
    restartedAtS: Number(restartedT.toFixed(1)),
    l2AnsweringAgainAfterS: recovered === undefined ? null : Number((recovered.t - restartedT).toFixed(2)),
    breakerStates: [...new Set(timeline.map((p) => p.breaker))],
    l2ErrorsDuringRun: (timeline.at(-1)?.l2Errors ?? 0) - (timeline[0]?.l2Errors ?? 0),
    clientErrors: row.summary.errors,
    readP99Ms: row.summary.readLatencyMs.p99,
    readMaxMs: row.summary.readLatencyMs.max,
    writeP99Ms: row.summary.writeLatencyMs.p99,
    writeMaxMs: row.summary.writeLatencyMs.max,
  }
} finally {
  polling = false
  await stopServer(on)
  await stopServer(off)
  await redis.stop()
  rmSync(redisDir, { recursive: true, force: true })
  await schema.drop()
  await pgBase.stop()
}

const pct = (r: number | null | undefined): string => (r === null || r === undefined ? 'n/a' : `${(r * 100).toFixed(1)}%`)
const layer = (l: unknown): number | null => (typeof l === 'object' && l !== null && 'hitRatio' in l ? (l as { hitRatio: number | null }).hitRatio : null)
const dbOf = (s: LoadSummary): { perSecond: number; readsPerSecond: number | null } | undefined => ('unavailable' in s.layers.db ? undefined : s.layers.db)

if (values.json) {
  console.log(JSON.stringify({ startedAt, node: process.version, cpus: cpus().length, loadBefore, loadAfter: loadavg()[0], rows, restart }, null, 2))
} else {
  console.log(`\nbench:stack ${startedAt}, Node ${process.version}, ${cpus().length} cores, load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`)
  console.log(`${products} products, Zipf 1.0, ${(writeShare * 100).toFixed(0)}% PATCH writes, seed 42\n`)
  console.log('| phase | caching | throughput /s | p50 ms | p99 ms | max ms | errors | DB queries/s | DB reads/s | edge hit | L1 hit | L2 hit | server CPU µs/req |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of rows) {
    const s = r.summary
    const db = dbOf(s)
    console.log(`| ${r.phase} | ${r.side} | ${Math.round(s.throughput)} | ${s.latencyMs.p50} | ${s.latencyMs.p99} | ${s.latencyMs.max} | ${s.errors.total} | ${db?.perSecond.toFixed(1) ?? 'n/a'} | ${db?.readsPerSecond?.toFixed(1) ?? 'n/a'} | ${pct(layer(s.layers.edge))} | ${pct(layer(s.layers.l1))} | ${pct(layer(s.layers.l2))} | ${Math.round((r.serverCpuS * 1e6) / Math.max(1, s.completed))} |`)
  }
  const pair = (phase: string): { on: Row; off: Row } | undefined => {
    const a = rows.find((r) => r.phase === phase && r.side === 'on')
    const b = rows.find((r) => r.phase === phase && r.side === 'off')
    return a === undefined || b === undefined ? undefined : { on: a, off: b }
  }
  for (const phase of [`fixed ${rate}/s`, 'max (64 conns)']) {
    const p = pair(phase)
    if (p === undefined) continue
    const dOn = dbOf(p.on.summary)
    const dOff = dbOf(p.off.summary)
    // Per request: the max-rate sides serve different rates, so queries are compared per request served.
    const perReq = (d: { perSecond: number } | undefined, s: LoadSummary): number => (d === undefined ? NaN : d.perSecond / s.throughput)
    const perReqReads = (d: { readsPerSecond: number | null } | undefined, s: LoadSummary): number => (d?.readsPerSecond == null ? NaN : d.readsPerSecond / s.throughput)
    const fewer = 1 - perReq(dOn, p.on.summary) / perReq(dOff, p.off.summary)
    const fewerReads = 1 - perReqReads(dOn, p.on.summary) / perReqReads(dOff, p.off.summary)
    console.log(`\n${phase}: database queries per request ${pct(fewer)} fewer with caching (reads: ${pct(fewerReads)} fewer); p99 ${p.off.summary.latencyMs.p99} → ${p.on.summary.latencyMs.p99} ms (${(p.off.summary.latencyMs.p99 / p.on.summary.latencyMs.p99).toFixed(1)}x)`)
  }
  const alone = rows.find((r) => r.phase === 'max, catalog alone')
  if (alone !== undefined) console.log(`\ncatalog alone (caching on): ${Math.round(alone.summary.completed / alone.serverCpuS)} requests per CPU-second of its process (edge idle in it)`)
  console.log(`\nRedis restart: ${JSON.stringify(restart)}`)
}
