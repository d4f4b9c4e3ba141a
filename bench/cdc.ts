/**
 * `npm run bench:cdc`: commit → invalidation visible in another process's L1, p50/p99/max, for
 * change capture in outbox mode (`tiercache cdc` as its own process, as deployed next to an app)
 * and for app-side invalidation (the writer commits, then calls `cache.invalidate`: what the stack
 * did before capture), at 100 and at 5,000 committed changes per second.
 *
 * Three processes: this one writes (a pool of connections; above 100/s, 100 transactions a second of rate/100 rows,
 * since each commit waits for its WAL flush) and records each commit's time; an observer
 * (bench/lib/cdc-observer.ts) holds a cache with its own connections and records when its L1 was
 * told to drop each key; the invalidator (`tiercache cdc`, outbox mode only). Every change touches
 * a row no other change of the run touches, so each key's first drop is that change's.
 *
 *   npm run bench:cdc -- [--seconds 5] [--rates 100,5000] [--private]
 *
 * Uses DATABASE_URL / REDIS_URL (default: the local test servers, else private ones) and a
 * schema and namespace of its own, dropped afterwards. The logical-replication mode is measured
 * too when the server has wal_level=logical; `--private` starts a private PostgreSQL that has it
 * (fsync off) and measures every mode there.
 */
import { fork, spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { parseCaptureMapping } from '../src/capture/mapping.js'
import { installOutbox } from '../src/capture/outbox-schema.js'
import { openPostgres } from '../src/db/pg-database.js'
import { createCache } from '../src/index.js'
import { CATALOG_MAPPING, seedCatalog } from '../src/stack/catalog-app.js'
import { ensurePostgres, ensureRedis, startPrivatePostgres } from '../test/services/services.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rates: { type: 'string', default: '100,5000' }, private: { type: 'boolean', default: false } } })
const seconds = Number(values.seconds)
const rates = values.rates.split(',').map(Number)

const [postgres, redis] = await Promise.all([values.private ? startPrivatePostgres() : ensurePostgres(), ensureRedis()])
const schema = `bench_cdc_${process.pid}`
const admin = new pg.Client({ connectionString: postgres.url })
await admin.connect()
await admin.query(`create schema ${schema}`)
const url = new URL(postgres.url)
url.searchParams.set('options', `-c search_path=${schema}`)
const databaseUrl = url.toString()
const namespace = `bench-cdc-${process.pid}`
// One row per change of every run: three modes (app-side, outbox, logical), each row touched once.
const totalRows = rates.reduce((sum, rate) => sum + rate * seconds, 0) * 3 + 1000

const db = await openPostgres(databaseUrl)
await seedCatalog(db, totalRows)
const mapping = parseCaptureMapping(CATALOG_MAPPING)
await installOutbox(db, mapping)
const pool = new pg.Pool({ connectionString: databaseUrl, max: 16 })

// The observer: another process, its own cache and connections.
const observer = fork('bench/lib/cdc-observer.ts', [redis.url, namespace], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
const seen = new Map<string, number>()
await new Promise<void>((resolve) => {
  observer.on('message', (m: unknown) => {
    if (m === 'ready') return resolve()
    for (const [key, at] of m as [string, number][]) if (!seen.has(key)) seen.set(key, at)
  })
})

const now = (): number => performance.timeOrigin + performance.now()

interface Run { mode: string; rate: number; achieved: number; latencies: number[]; missing: number; firstSecondP99: number; lastSecondP99: number }

/**
 * Commits `rate` changes per second for `seconds`, each transaction updating `perTx` rows with ids
 * from `nextId` on; `after(ids, version)` runs after each commit (app-side invalidation).
 */
async function drive(mode: string, rate: number, firstId: number, after?: (ids: number[]) => Promise<void>): Promise<Run> {
  // One row per transaction up to 100/s; beyond, 100 transactions a second of rate/100 rows (each
  // commit waits for its WAL flush: a shared 2-core machine commits a few hundred a second).
  const perTx = Math.max(1, Math.round(rate / 100))
  const txPerSecond = rate / perTx
  const total = Math.round(rate * seconds)
  const committed = new Map<string, number>()
  const start = now()
  let nextId = firstId
  const inFlight = new Set<Promise<void>>()
  for (let tx = 0; nextId < firstId + total; tx++) {
    const due = start + (tx * 1000) / txPerSecond
    const wait = due - now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    const ids = Array.from({ length: perTx }, (_, i) => nextId + i)
    nextId += perTx
    const work = (async () => {
      await pool.query('update products set stock = stock + 1, version = version + 1 where id = any($1::int[])', [ids])
      const at = now()
      for (const id of ids) committed.set(`product:${id}`, at)
      await after?.(ids)
    })()
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work))
    if (inFlight.size >= 64) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  const elapsed = (now() - start) / 1000
  // Wait for every key to be seen (bounded: a missing one is reported, not waited for forever).
  const deadline = now() + 30_000
  while (now() < deadline && [...committed.keys()].some((k) => !seen.has(k))) await new Promise((r) => setTimeout(r, 50))
  const samples: [number, number][] = []
  let missing = 0
  for (const [key, at] of committed) {
    const drop = seen.get(key)
    if (drop === undefined) missing++
    else samples.push([at - start, drop - at])
  }
  const latencies = samples.map(([, l]) => l).sort((a, b) => a - b)
  const window = (from: number, to: number): number => pct(samples.filter(([t]) => t >= from && t < to).map(([, l]) => l).sort((a, b) => a - b), 0.99)
  return { mode, rate, achieved: total / elapsed, latencies, missing, firstSecondP99: window(0, 1000), lastSecondP99: window((seconds - 1) * 1000, seconds * 1000) }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

const runs: Run[] = []
let nextId = 1
let catchUp = { rows: 0, ms: 0 }

// App-side invalidation: commit, then invalidate through the writer's own cache.
{
  const cache = createCache({ namespace, l2: { redis: redis.url } })
  await cache.ready()
  for (const rate of rates) {
    runs.push(await drive('app-side invalidate', rate, nextId, (ids) =>
      cache.invalidate({ keys: ids.map((id) => `product:${id}`), tags: [...ids.map((id) => `product:${id}`), 'products'] })))
    nextId += rate * seconds
  }
  await cache.close()
}

// Outbox capture: `tiercache cdc` in its own process.
{
  const dir = await mkdtemp(join(tmpdir(), 'bench-cdc-'))
  const config = join(dir, 'mapping.json')
  await writeFile(config, JSON.stringify(CATALOG_MAPPING))
  const cdc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cdc', '--config', config, '--database', databaseUrl, '--redis', redis.url, '--namespace', namespace],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    cdc.stdout.on('data', (d: Buffer) => { if (d.toString().includes('following')) resolve() })
    cdc.once('exit', (code) => reject(new Error(`tiercache cdc exited with ${code}`)))
  })
  // The app-side runs' changes went through the triggers too, with no invalidator running: an
  // outage's backlog. Draining it measures catch-up; the rate runs start from an empty outbox.
  const backlog = Number((await pool.query<{ n: string }>('select count(*)::text as n from tiercache_cdc_outbox')).rows[0]!.n)
  const drainStart = now()
  while (Number((await pool.query<{ n: string }>('select count(*)::text as n from tiercache_cdc_outbox')).rows[0]!.n) > 0) await new Promise((r) => setTimeout(r, 20))
  catchUp = { rows: backlog, ms: now() - drainStart }
  for (const rate of rates) {
    runs.push(await drive('outbox capture (tiercache cdc)', rate, nextId))
    nextId += rate * seconds
  }
  cdc.kill('SIGTERM')
  await new Promise((r) => cdc.once('exit', r))

  // Logical replication: `tiercache cdc --mode logical` (the triggers go first: the WAL is the log).
  const walLevel = (await pool.query<{ wal_level: string }>('show wal_level')).rows[0]!.wal_level
  if (walLevel === 'logical') {
    await pool.query('drop trigger tiercache_cdc_capture on products')
    const logical = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cdc', '--mode', 'logical', '--config', config, '--database', databaseUrl,
      '--redis', redis.url, '--namespace', namespace], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      logical.stdout.on('data', (d: Buffer) => { if (d.toString().includes('following')) resolve() })
      logical.once('exit', (code) => reject(new Error(`tiercache cdc --mode logical exited with ${code}`)))
    })
    for (const rate of rates) {
      runs.push(await drive('logical (tiercache cdc)', rate, nextId))
      nextId += rate * seconds
    }
    let said = ''
    logical.stdout.on('data', (d: Buffer) => { said += d.toString() })
    logical.kill('SIGTERM')
    await new Promise((r) => logical.once('exit', r))
    console.log(said.trim())
    await pool.query(`select pg_drop_replication_slot('tiercache_cdc_slot')`).catch(() => {})
  } else {
    console.log(`(logical mode not measured: wal_level is ${walLevel}; npm run bench:cdc -- --private measures it on a private server)`)
  }
}

const fmt = (ms: number): string => Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1)
console.log(`\ncommit -> key dropped from another process's L1 (ms); ${seconds} s per run; ${values.private ? 'private PostgreSQL (fsync off)' : 'PostgreSQL at DATABASE_URL'}; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
console.log('mode                            rate/s  achieved  p50     p99     max     p99 1st s  p99 last s  missing')
for (const r of runs) {
  console.log(`${r.mode.padEnd(32)}${String(r.rate).padStart(6)}  ${r.achieved.toFixed(0).padStart(8)}  ${fmt(pct(r.latencies, 0.5)).padEnd(8)}${fmt(pct(r.latencies, 0.99)).padEnd(8)}` +
    `${fmt(r.latencies.at(-1) ?? NaN).padEnd(8)}${fmt(r.firstSecondP99).padEnd(11)}${fmt(r.lastSecondP99).padEnd(12)}${r.missing}`)
}
console.log(`catch-up after an outage: ${catchUp.rows} changes waiting in the outbox published in ${(catchUp.ms / 1000).toFixed(2)} s ` +
  `(${(catchUp.rows / (catchUp.ms / 1000)).toFixed(0)} changes/s, tiercache cdc start-up not included)`)
for (const rate of rates) {
  const app = runs.find((r) => r.rate === rate && r.mode.startsWith('app'))!
  for (const cap of runs.filter((r) => r.rate === rate && !r.mode.startsWith('app'))) {
    console.log(`at ${rate}/s: ${cap.mode} p50 is ${(pct(cap.latencies, 0.5) / pct(app.latencies, 0.5)).toFixed(1)}x app-side, p99 ${(pct(cap.latencies, 0.99) / pct(app.latencies, 0.99)).toFixed(1)}x`)
  }
}

observer.disconnect()
await pool.end()
await db.close()
await admin.query(`drop schema ${schema} cascade`)
await admin.end()
await Promise.all([postgres.stop(), redis.stop()])
