/**
 * The randomized multi-process consistency run.
 *
 * Workers start cold by default: each works the moment its cache is created, as every node does
 * right after a deploy; `redeploys` replaces workers mid-run the same way.
 *
 * 1. Starts a private redis-server (so it can be restarted without touching the shared one) and
 *    creates a fresh table of `keys` rows, version 1.
 * 2. Forks `workers` processes (worker.ts), each with its own cache on that Redis, same namespace,
 *    and lets them run random reads, getMany calls and writes (commit, then one of delete,
 *    invalidate-with-version, invalidateTags, write-through set).
 * 3. While they run, injects chaos at evenly spaced points of progress: Redis restarts (SIGKILL, kept
 *    down for `downMs`, started again on the same port, empty) and killed connections
 *    (`CLIENT KILL TYPE normal`, or the bus followers' blocked XREADs by id from `CLIENT LIST`).
 * 4. Stops the workers once every one did `opsPerWorker` operations and every chaos event ran, waits
 *    for quiescence (no invalidation pending in any outbox, every bus connected), then settles for
 *    longer than the bus fence (entries written while fenced expire by design).
 * 5. Checks every layer of every process against the table (checker.ts) and analyses what the
 *    workers recorded (stale-windows.ts). Everything started is stopped and dropped in `finally`.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'
import { startRedisServer } from '../services/services.js'
import { checkLayers } from './checker.js'
import type { CheckResult, StaleKey } from './checker.js'
import { WRITE_METHODS, wallNow } from './protocol.js'
import type { PeekRow, Reply, Request, WorkerConfig, WorkerReport, WorkerStatus, WriteMethod, WriteRecord } from './protocol.js'
import { analyseProbe, analysePropagation, analyseStaleness } from './stale-windows.js'
import type { ChaosSpan, ProbeReport, PropagationReport, StaleReport } from './stale-windows.js'

export type ChaosKind = 'restart' | 'kill-all' | 'kill-bus' | 'redeploy'

export interface RunOptions {
  databaseUrl: string
  workers?: number
  /** Each worker does at least this many operations (it keeps going until the chaos is over). */
  opsPerWorker?: number
  keys?: number
  hotKeys?: number
  hotFraction?: number
  lanes?: number
  readFraction?: number
  getManyFraction?: number
  methods?: readonly WriteMethod[]
  /** Any method on any key, including a versioned write-through racing an unversioned invalidation (see WorkerConfig). */
  mixStrategies?: boolean
  /** Redis restarts during the run. */
  restarts?: number
  /** `CLIENT KILL TYPE normal` during the run (every cache connection: L2 commands and bus). */
  kills?: number
  /** Bus followers killed by id (`CLIENT LIST`, `cmd=xread`) during the run. */
  busKills?: number
  /**
   * Workers replaced during the run, one at a time, as a rolling deploy does: the old process
   * closes its cache and exits, a new one starts and works the moment its cache is created.
   */
  redeploys?: number
  /**
   * `true` (default): workers start working the moment their cache is created, with no warm-up
   * (the bus may not have synced yet). `false`: they wait until their bus follows the stream.
   */
  coldStart?: boolean
  /** How long Redis stays down on a restart. */
  downMs?: number
  /** `false`: workers run without the bus (broken on purpose, to show the checker catches it). */
  bus?: boolean
  seed?: number
  ttlMs?: number
  /** L2 per-operation budget of the workers (default: the library's). */
  l2TimeoutMs?: number
  leaseTtlMs?: number
  fencedTtlMs?: number
  /** Each lane pauses a random 0..2x this many ms between operations (0: only yields to the event loop). */
  paceMs?: number
  /** Half of the writes pause a random 0..this many ms between commit and invalidation. */
  postCommitDelayMs?: number
  /** Check every layer at a quiescent point after each chaos event too, not only at the end. */
  checkpoints?: boolean
  /**
   * Measure the limit alongside: a bare XADD → blocking XREAD between this process and a child
   * process on the run's Redis, every `probeIntervalMs` while the workers run (stream-probe.ts).
   */
  probe?: boolean
  probeIntervalMs?: number
  /** Extra wait after quiescence, on top of the bus fence. */
  settleMs?: number
  /**
   * Chaos spans last until every worker recovered (bus connected, outbox empty) plus fencedTtl, and
   * at least this long after the event.
   */
  recoveryMs?: number
  log?: (line: string) => void
}

export interface ChaosEvent {
  readonly kind: ChaosKind
  readonly from: number
  readonly to: number
  /** When every worker followed the bus again with an empty outbox. */
  readonly recoveredAt: number
  /** Connections killed, for kills. */
  readonly killed: number
}

export interface RunResult {
  readonly seed: number
  readonly namespace: string
  readonly table: string
  readonly workers: number
  readonly ops: { readonly total: number; readonly reads: number; readonly getMany: number; readonly writes: number; readonly errors: number }
  readonly errorSamples: readonly string[]
  readonly chaos: readonly ChaosEvent[]
  readonly quiesced: boolean
  readonly quiescenceMs: number
  /** The final check. */
  readonly check: CheckResult
  /** Every check, the final one last: after each chaos event (with `checkpoints`) and at the end. */
  readonly checks: readonly { readonly label: string; readonly check: CheckResult }[]
  /**
   * Distinct stale cases over all checks: a (layer, node, key, version served) counts once, at the
   * first check that finds it, even if it is still there at the next checks.
   */
  readonly staleKeys: number
  /** Distinct stale cases first found at each check, in check order. */
  readonly newStalePerCheck: readonly number[]
  /** For each stale case (first time found): likely cause, the write served, the writes missed. */
  readonly explanations: readonly string[]
  /** Stale cases by likely cause. */
  readonly causes: Readonly<Record<string, number>>
  readonly staleness: StaleReport
  readonly propagation: PropagationReport
  /** The raw-stream limit measured alongside (with `probe`). */
  readonly probe: ProbeReport | undefined
  /** L1 flushes per worker (bus gaps, fence expiry), with reasons. */
  readonly flushes: readonly (readonly { readonly at: number; readonly reason: string }[])[]
  readonly warnings: readonly number[]
  readonly warningSamples: readonly (readonly string[])[]
  readonly stats: readonly unknown[]
  readonly durationMs: number
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url))
const PROBE = fileURLToPath(new URL('./stream-probe.ts', import.meta.url))

/** The raw-stream probe (see {@link RunOptions.probe}): start it, then `finish()` for its samples. */
async function startProbe(redisUrl: string, stream: string, intervalMs: number): Promise<{ finish(): Promise<[number, number][]>; kill(): void }> {
  const child = fork(PROBE, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' })
  const messages: { ready?: boolean; samples?: [number, number][] }[] = []
  let notify: () => void = () => {}
  child.on('message', (m: { ready?: boolean; samples?: [number, number][] }) => { messages.push(m); notify() })
  const next = (what: 'ready' | 'samples'): Promise<void> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream probe: no ${what} within 30 s`)), 30_000)
    const check = (): void => {
      if (messages.some((m) => m[what] !== undefined)) {
        clearTimeout(timer)
        resolve()
      }
    }
    notify = check
    check()
  })
  child.send({ cmd: 'start', url: redisUrl, stream })
  await next('ready')
  await sleep(100)
  const publisher = new Redis(redisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 })
  publisher.on('error', () => {})
  const timer = setInterval(() => {
    publisher.xadd(stream, 'MAXLEN', '~', 10_000, '*', 'ts', wallNow().toFixed(3)).catch(() => {})
  }, intervalMs)
  const kill = (): void => {
    clearInterval(timer)
    publisher.disconnect()
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  return {
    kill,
    finish: async () => {
      clearInterval(timer)
      await sleep(50)
      child.send({ cmd: 'report' })
      await next('samples')
      kill()
      return messages.find((m) => m.samples !== undefined)?.samples ?? []
    },
  }
}

/** One forked worker and its request/answer plumbing. */
class WorkerHandle {
  readonly index: number
  readonly child: ChildProcess
  ops = 0
  #nextId = 1
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  #exited = false

  constructor(index: number, onProgress: () => void) {
    this.index = index
    this.child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' })
    this.child.on('message', (reply: Reply) => {
      if ('event' in reply) {
        this.ops = reply.ops
        onProgress()
        return
      }
      const pending = this.#pending.get(reply.id)
      if (pending === undefined) return
      this.#pending.delete(reply.id)
      if (reply.ok) pending.resolve(reply.result)
      else pending.reject(new Error(`worker ${index}: ${reply.error}`))
    })
    this.child.on('exit', (code, signal) => {
      this.#exited = true
      for (const p of this.#pending.values()) p.reject(new Error(`worker ${index} exited (code ${code}, signal ${signal})`))
      this.#pending.clear()
    })
  }

  call<T>(cmd: Request['cmd'], extra: Partial<Extract<Request, { cmd: 'init' }>> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`worker ${this.index} has exited`))
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`worker ${this.index}: "${cmd}" got no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value as T) },
        reject: (error) => { clearTimeout(timer); reject(error) },
      })
      this.child.send({ ...extra, id, cmd })
    })
  }

  /** Asks the worker to close its cache and pool; kills it if it does not exit in time. */
  async shutdown(): Promise<void> {
    if (this.#exited) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    await this.call('close', {}, 10_000).catch(() => {})
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 5_000)
    await exited
    clearTimeout(timer)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The chaos schedule: the kinds interleaved, each spread over the run. */
function schedule(restarts: number, kills: number, busKills: number, redeploys: number): ChaosKind[] {
  const queues: [ChaosKind, number][] = [['restart', restarts], ['kill-all', kills], ['kill-bus', busKills], ['redeploy', redeploys]]
  const total = restarts + kills + busKills + redeploys
  const out: ChaosKind[] = []
  const done = new Map<ChaosKind, number>()
  for (let i = 0; i < total; i++) {
    // Pick the kind furthest behind its even share at this point.
    let best: ChaosKind | undefined
    let bestLag = Number.NEGATIVE_INFINITY
    for (const [kind, count] of queues) {
      const d = done.get(kind) ?? 0
      if (d >= count) continue
      const lag = ((i + 0.5) * count) / total - d
      if (lag > bestLag) {
        best = kind
        bestLag = lag
      }
    }
    out.push(best as ChaosKind)
    done.set(best as ChaosKind, (done.get(best as ChaosKind) ?? 0) + 1)
  }
  return out
}

export async function runConsistency(options: RunOptions): Promise<RunResult> {
  const o = {
    workers: 3, opsPerWorker: 1_000, keys: 200, hotKeys: 10, hotFraction: 0.3, lanes: 4,
    readFraction: 0.7, getManyFraction: 0.05, methods: WRITE_METHODS, mixStrategies: false, restarts: 1, kills: 1, busKills: 1, redeploys: 0, coldStart: true, downMs: 300,
    bus: true, seed: Math.floor(Math.random() * 2 ** 31), ttlMs: 10 * 60_000, leaseTtlMs: 2_000, fencedTtlMs: 1_000,
    paceMs: 0, postCommitDelayMs: 0, checkpoints: true, probe: false, probeIntervalMs: 5, settleMs: 500, recoveryMs: 1_000, log: (): void => {}, ...options,
  }
  const log = o.log
  const began = wallNow()
  const suffix = randomBytes(5).toString('hex')
  const table = `consistency_${suffix}`
  const namespace = `cons-${suffix}`
  const cleanups: (() => Promise<unknown>)[] = []
  const handles: WorkerHandle[] = []
  try {
    let redis = await startRedisServer()
    const port = redis.port
    cleanups.push(() => redis.stop())
    const redisUrl = redis.url
    const admin = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 })
    admin.on('error', () => {})
    cleanups.push(async () => { admin.disconnect() })

    const db = new pg.Client({ connectionString: o.databaseUrl })
    await db.connect()
    cleanups.push(async () => {
      await db.query(`drop table if exists ${table}`).catch(() => {})
      await db.end()
    })
    await db.query(`create table ${table} (id int primary key, version int not null, data text not null)`)
    await db.query(`insert into ${table} (id, version, data) select g, 1, 'initial-' || g from generate_series(0, $1::int - 1) g`, [o.keys])
    log(`run ${suffix}: seed ${o.seed}, ${o.workers} workers x >= ${o.opsPerWorker} ops, ${o.keys} keys, redis ${redisUrl}`)

    const events = schedule(o.restarts, o.kills, o.busKills, o.redeploys)
    // The run is cut in events + 2 segments of equal op counts: a warm-up, one before each event,
    // and a tail after the last recovery, so the final check finds full caches, not cold ones.
    const segment = Math.max(1, Math.floor((o.workers * o.opsPerWorker) / (events.length + 2)))
    let progressed: () => void = () => {}
    const onProgress = (): void => { progressed() }
    const config = (index: number): WorkerConfig => ({
      index, redisUrl, databaseUrl: o.databaseUrl, table, namespace, keys: o.keys, hotKeys: o.hotKeys,
      hotFraction: o.hotFraction, lanes: o.lanes, seed: o.seed + index * 7919, readFraction: o.readFraction,
      getManyFraction: o.getManyFraction, getManySize: 8, methods: o.methods, mixStrategies: o.mixStrategies, bus: o.bus, ttlMs: o.ttlMs, l2TimeoutMs: o.l2TimeoutMs,
      leaseTtlMs: o.leaseTtlMs, fencedTtlMs: o.fencedTtlMs, paceMs: o.paceMs, postCommitDelayMs: o.postCommitDelayMs,
      progressEvery: 25, cold: o.coldStart,
    })
    for (let i = 0; i < o.workers; i++) handles.push(new WorkerHandle(i, onProgress))
    cleanups.push(() => Promise.all(handles.map((h) => h.shutdown())))
    /** Reports of workers replaced by a redeploy, collected before they exited. */
    const retired: WorkerReport[] = []
    /** Ops done by workers that were replaced (progress counts only live workers). */
    let retiredOps = 0
    await Promise.all(handles.map((h, i) => h.call('init', { config: config(i) }, 60_000)))

    const opsNow = (): number => retiredOps + handles.reduce((n, h) => n + h.ops, 0)
    /** Resolves once the workers together did `total` operations. */
    const reach = (total: number): Promise<void> => new Promise((resolve) => {
      const check = (): void => {
        if (opsNow() >= total) {
          progressed = () => {}
          resolve()
        }
      }
      progressed = check
      check()
    })
    /**
     * Resolves with how long it took every worker to follow the bus again with nothing left to
     * retry, or -1 after 30 s.
     */
    const healthy = async (): Promise<number> => {
      const from = wallNow()
      while (wallNow() - from < 30_000) {
        const statuses = await Promise.all(handles.map((h) => h.call<WorkerStatus>('status')))
        if (statuses.every((s) => s.pendingInvalidations === 0 && (!o.bus || (!s.fenced && s.busConnected)))) return wallNow() - from
        await sleep(50)
      }
      return -1
    }
    const checks: { label: string; check: CheckResult }[] = []
    let quiesced = true
    let quiescenceMs = 0
    /** Stops every operation, waits for quiescence and the fence, and checks every layer. */
    const checkpoint = async (label: string): Promise<void> => {
      await Promise.all(handles.map((h) => h.call<number>('stop', {}, 60_000)))
      quiescenceMs = await healthy()
      if (quiescenceMs < 0) {
        quiesced = false
        log(`${label}: NOT quiescent after 30 s (checking anyway)`)
      }
      // Entries written while a node was fenced keep at most fencedTtl of freshness: by design.
      await sleep(o.fencedTtlMs + o.settleMs)
      const peeks = await Promise.all(handles.map((h) => h.call<PeekRow[]>('peek')))
      const check = await checkLayers({ databaseUrl: o.databaseUrl, table, redisUrl, namespace, keys: o.keys, peeks })
      checks.push({ label, check })
      log(`check ${label}: ${check.stale.length} stale keys (L1 held ${check.l1Held.join('/')}, L2 ${check.l2Held} of ${o.keys}; quiescent after ${Math.round(quiescenceMs)} ms)`)
    }

    const probe = o.probe ? await startProbe(redisUrl, `probe:${namespace}`, o.probeIntervalMs) : undefined
    if (probe !== undefined) cleanups.push(async () => { probe.kill() })
    let probeSamples: [number, number][] = []

    await Promise.all(handles.map((h) => h.call('run')))
    const chaos: ChaosEvent[] = []
    for (let i = 0; i < events.length; i++) {
      const kind = events[i] as ChaosKind
      await reach(opsNow() + segment)
      const from = wallNow()
      const opsBefore = opsNow()
      let killed = 0
      if (kind === 'restart') {
        await redis.stop()
        await sleep(o.downMs)
        redis = await startRedisServer({ port })
      } else if (kind === 'redeploy') {
        // Replace the oldest worker: it stops, reports, closes its cache and exits; the new one
        // (a new index) works the moment its cache exists, while the others keep writing.
        const slot = chaos.filter((c) => c.kind === 'redeploy').length % handles.length
        const old = handles[slot] as WorkerHandle
        await old.call<number>('stop', {}, 60_000)
        retired.push(await old.call<WorkerReport>('report', {}, 60_000))
        retiredOps += old.ops
        await old.shutdown()
        const fresh = new WorkerHandle(o.workers + retired.length - 1, onProgress)
        handles[slot] = fresh
        await fresh.call('init', { config: { ...config(fresh.index), cold: true } }, 60_000)
        await fresh.call('run')
        killed = 1
      } else {
        if (admin.status === 'wait') await admin.connect()
        if (kind === 'kill-all') {
          killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'normal'))
        } else {
          const list = String(await admin.call('CLIENT', 'LIST'))
          const ids = list.split('\n').filter((line) => / cmd=xread\b/.test(line)).map((line) => /\bid=(\d+)/.exec(line)?.[1])
          for (const id of ids) if (id !== undefined) killed += Number(await admin.call('CLIENT', 'KILL', 'ID', id))
        }
      }
      const to = wallNow()
      const recovery = await healthy()
      if (recovery < 0) throw new Error(`the workers did not recover within 30 s of ${kind} (bus not connected or invalidations still pending)`)
      chaos.push({ kind, from, to, recoveredAt: wallNow(), killed })
      log(`chaos ${i + 1}/${events.length}: ${kind}${kind === 'restart' ? '' : ` (${killed} connections)`} at ${opsBefore} ops, recovered in ${Math.round(recovery)} ms`)
      if (o.checkpoints) {
        await checkpoint(`after ${kind} (event ${i + 1})`)
        await Promise.all(handles.map((h) => h.call('run')))
      }
    }
    await reach(opsNow() + segment)
    // Every worker does its share (a replacement counts what its predecessors did in its slot).
    await reach(o.workers * o.opsPerWorker)
    if (probe !== undefined) probeSamples = await probe.finish()
    await checkpoint('final')
    const check = (checks[checks.length - 1] as { check: CheckResult }).check
    const reports = [...retired, ...(await Promise.all(handles.map((h) => h.call<WorkerReport>('report', {}, 60_000))))]

    // Entries written while a node was fenced may be served for fencedTtl after it recovered.
    const spans: ChaosSpan[] = chaos.map((c) => ({ from: c.from - 50, to: Math.max(c.to + o.recoveryMs, c.recoveredAt + o.fencedTtlMs) }))
    const ops = { total: 0, reads: 0, getMany: 0, writes: 0, errors: 0 }
    for (const r of reports) {
      ops.reads += r.ops.reads
      ops.getMany += r.ops.getMany
      ops.writes += r.ops.writes
      ops.errors += r.ops.errors
    }
    ops.total = ops.reads + ops.getMany + ops.writes
    return {
      seed: o.seed,
      namespace,
      table,
      workers: o.workers,
      ops,
      errorSamples: reports.flatMap((r) => r.errorSamples).slice(0, 10),
      chaos,
      quiesced,
      quiescenceMs,
      check,
      checks,
      staleKeys: firstSeen(checks).reduce((n, list) => n + list.length, 0),
      newStalePerCheck: firstSeen(checks).map((list) => list.length),
      ...(() => {
        const { lines, causes } = explain(checks, reports, chaos, began)
        return { explanations: lines, causes }
      })(),
      staleness: analyseStaleness(reports.map((r) => r.reads), reports.map((r) => r.writes), spans),
      propagation: analysePropagation(reports.flatMap((r) => r.propagation), reports.flatMap((r) => r.writes), spans),
      probe: probe === undefined ? undefined : analyseProbe(probeSamples, spans),
      flushes: reports.map((r) => r.flushes),
      warnings: reports.map((r) => r.warnings),
      warningSamples: reports.map((r) => r.warningSamples),
      stats: reports.map((r) => r.stats),
      durationMs: wallNow() - began,
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((error: unknown) => { log(`cleanup failed: ${String(error)}`) })
  }
}

/** Per check, the stale cases no earlier check found. */
function firstSeen(checks: readonly { label: string; check: CheckResult }[]): StaleKey[][] {
  const seen = new Set<string>()
  return checks.map(({ check }) => check.stale.filter((s) => {
    const id = `${s.layer}/${s.worker ?? ''}/${s.key}/${s.cachedVersion}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  }))
}

/** The likely cause of a stale case, from the write history (see test/integration/consistency-bugs.test.ts). */
export type StaleCause = 'bug 1' | 'bug 2' | 'bug 3' | 'mixed strategies' | 'unclassified'

interface Written {
  readonly worker: number
  readonly w: WriteRecord
}

/**
 * Heuristics, from the first write the layer missed (`first`) and the write of the version served:
 * - bug 3: the writer's own L1, its invalidation was left in the outbox (its Redis step failed);
 * - bug 2: the missed write is a write-through left in the outbox, seen in L2 or another node's L1;
 * - bug 1: the writer's own L1 serves its write-through, which completed after the newer write's
 *   invalidation (an older write-through landing late);
 * - mixed strategies: the version served is a write-through that completed after an unversioned
 *   invalidation (`delete`, `tags`) of the newer commit: nothing can order them.
 */
function classify(s: StaleKey, served: Written | undefined, first: Written | undefined): StaleCause {
  if (first === undefined) return 'unclassified'
  const method = WRITE_METHODS[first.w[4]]
  if (s.layer === 'L1' && first.worker === s.worker && first.w[5] === 1 && method !== 'set' && method !== 'tags') return 'bug 3'
  if (method === 'set' && first.w[5] === 1 && (s.layer === 'L2' || first.worker !== s.worker)) return 'bug 2'
  if (served !== undefined && WRITE_METHODS[served.w[4]] === 'set' && served.w[3] > first.w[3]) {
    if (method === 'delete' || method === 'tags') return 'mixed strategies'
    if (s.layer === 'L1' && served.worker === s.worker) return 'bug 1'
  }
  return 'unclassified'
}

/** For each stale case (first time found): its likely cause, the write served and the writes missed. */
function explain(checks: readonly { label: string; check: CheckResult }[], reports: readonly WorkerReport[],
  chaos: readonly ChaosEvent[], began: number): { lines: string[]; causes: Record<string, number> } {
  const lines: string[] = []
  const causes: Record<string, number> = {}
  const when = (t: number): string => {
    const last = [...chaos].reverse().find((c) => c.from <= t)
    return last === undefined ? `${Math.round(t - began)} ms into the run` : `${Math.round(t - last.from)} ms after ${last.kind} #${chaos.indexOf(last) + 1}`
  }
  const describe = ({ worker, w }: Written): string =>
    `v${w[1]} by worker ${worker} via ${WRITE_METHODS[w[4]]}, committed ${when(w[2])}, invalidated +${(w[3] - w[2]).toFixed(1)} ms${w[5] === 1 ? ' (outbox not empty)' : ''}`
  const fresh = firstSeen(checks)
  for (let c = 0; c < checks.length; c++) {
    const { label } = checks[c] as { label: string }
    for (const s of fresh[c] as StaleKey[]) {
      const id = Number(s.key.slice(s.key.indexOf(':') + 1))
      const writes: Written[] = reports.flatMap((r) => r.writes.filter((w) => w[0] === id).map((w) => ({ worker: r.index, w })))
      const served = writes.find(({ w }) => w[1] === s.cachedVersion)
      const missed = writes.filter(({ w }) => w[1] > s.cachedVersion && w[1] <= s.dbVersion).sort((a, b) => a.w[1] - b.w[1])
      const cause = classify(s, served, missed[0])
      causes[cause] = (causes[cause] ?? 0) + 1
      lines.push(`${label}: [${cause}] ${s.layer}${s.worker === undefined ? '' : ` of worker ${s.worker}`} ${s.key} serves ` +
        `${served === undefined ? `v${s.cachedVersion} (the initial row)` : describe(served)}; missed ${missed.map(describe).join('; ')}`)
    }
  }
  return { lines, causes }
}

/** One line per stale key, for failure messages and the bench. */
export function describeStale(result: RunResult): string[] {
  const fresh = firstSeen(result.checks)
  return result.checks.flatMap(({ label }, c) => (fresh[c] as StaleKey[]).map((s) =>
    `${label}: ${s.layer}${s.worker === undefined ? '' : ` of worker ${s.worker}`}: ${s.key} serves v${s.cachedVersion} (${s.cachedData}), database has v${s.dbVersion} (${s.dbData})`))
}
