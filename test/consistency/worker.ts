/**
 * One node of the consistency run: a child process with its own cache (L1 on, L2 on the run's
 * private Redis) doing random reads, getMany calls and writes over a PostgreSQL table, and
 * recording what it saw so the orchestrator can check every layer afterwards.
 *
 * Started by orchestrator.ts with `child_process.fork` (`node --import tsx worker.ts`); driven by
 * the requests of protocol.ts over IPC.
 */
import diagnostics from 'node:diagnostics_channel'
import pg from 'pg'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { READ_SOURCES, WRITE_METHODS, keyOf, tagOf, wallNow } from './protocol.js'
import type {
  PeekRow, PropagationRecord, ReadRecord, Reply, Request, WorkerConfig, WorkerReport, WorkerStatus, WriteMethod, WriteRecord,
} from './protocol.js'

interface Row {
  id: number
  version: number
  data: string
}

/** mulberry32: small, seedable, good enough to pick operations. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

class Worker {
  readonly #config: WorkerConfig
  readonly #pool: pg.Pool
  readonly #cache: TierCache
  readonly #random: () => number
  readonly #reads: ReadRecord[] = []
  readonly #writes: WriteRecord[] = []
  readonly #propagation: PropagationRecord[] = []
  readonly #flushes: { at: number; reason: string }[] = []
  readonly #errors: string[] = []
  readonly #warnings: string[] = []
  #warningCount = 0
  #busConnected = false
  #ops = 0
  #counts = { reads: 0, getMany: 0, writes: 0, errors: 0 }
  /** Write methods of cache-aside keys (even ids) and write-through keys (odd ids). */
  readonly #methodsByParity: readonly (readonly WriteMethod[])[]
  #stopping = false
  #closed: Promise<void> | undefined
  #lanes: Promise<void>[] = []
  readonly #onInvalidated = (message: unknown): void => {
    const m = message as { namespace: string; at: number; keys?: readonly string[]; tags?: readonly string[] }
    if (m.namespace !== this.#config.namespace) return
    const about = m.keys?.[0] ?? m.tags?.[0]
    this.#propagation.push([m.at, wallNow(), about === undefined ? -1 : Number(about.slice(about.indexOf(':') + 1))])
  }
  readonly #onFlush = (message: unknown): void => {
    const m = message as { namespace: string; reason: string }
    if (m.namespace === this.#config.namespace) this.#flushes.push({ at: wallNow(), reason: m.reason })
  }
  readonly #onTier = (message: unknown): void => {
    const m = message as { namespace: string; tier: string; state: string }
    if (m.namespace === this.#config.namespace && m.tier === 'bus') this.#busConnected = m.state === 'connected'
  }

  constructor(config: WorkerConfig) {
    this.#config = config
    this.#random = rng(config.seed)
    const only = (allowed: readonly WriteMethod[]): readonly WriteMethod[] => {
      const kept = config.methods.filter((m) => allowed.includes(m))
      return kept.length > 0 ? kept : config.methods
    }
    this.#methodsByParity = config.mixStrategies
      ? [config.methods, config.methods]
      : [only(['delete', 'invalidate', 'tags']), only(['set', 'invalidate'])]
    this.#pool = new pg.Pool({ connectionString: config.databaseUrl, max: Math.max(2, config.lanes) })
    this.#pool.on('error', () => {})
    diagnostics.subscribe('tiercache:invalidated', this.#onInvalidated)
    diagnostics.subscribe('tiercache:flush', this.#onFlush)
    diagnostics.subscribe('tiercache:tier', this.#onTier)
    const note = (level: string) => (_context: object, message: string): void => {
      this.#warningCount++
      if (this.#warnings.length < 20) this.#warnings.push(`${level}: ${message}`)
    }
    this.#cache = createCache({
      namespace: config.namespace,
      l1: { maxTtl: config.ttlMs },
      l2: { redis: config.redisUrl, ...(config.l2TimeoutMs === undefined ? {} : { timeout: config.l2TimeoutMs }) },
      ttl: config.ttlMs,
      lease: { ttl: config.leaseTtlMs },
      coherence: { fencedTtl: config.fencedTtlMs },
      logger: { warn: note('warn'), error: note('error') },
      ...(config.bus ? {} : { bus: false as const }),
    })
  }

  /** Resolves once the bus follows the stream (or at once without a bus). */
  async ready(): Promise<void> {
    if (!this.#config.bus) return
    const deadline = Date.now() + 15_000
    while (this.#cache.stats().coherence.fenced || !this.#busConnected) {
      if (Date.now() > deadline) throw new Error(`worker ${this.#config.index}: the bus did not connect within 15 s`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  run(progress: (ops: number) => void): void {
    this.#stopping = false
    this.#lanes = []
    for (let lane = 0; lane < this.#config.lanes; lane++) {
      this.#lanes.push(this.#lane(progress))
    }
  }

  async stop(): Promise<number> {
    this.#stopping = true
    await Promise.all(this.#lanes)
    return this.#ops
  }

  status(): WorkerStatus {
    const s = this.#cache.stats()
    return {
      ops: this.#ops,
      pendingInvalidations: s.coherence.pendingInvalidations,
      fenced: s.coherence.fenced,
      busConnected: this.#busConnected,
      flushes: s.coherence.flushes,
    }
  }

  /** What this node's L1 would serve for every key, synchronously (no I/O, so no interleaving). */
  peek(): PeekRow[] {
    const out: PeekRow[] = []
    for (let id = 0; id < this.#config.keys; id++) {
      const value = this.#cache.peek<Row>(keyOf(id))
      out.push(value === undefined ? null : [value.id, value.version, value.data])
    }
    return out
  }

  report(): WorkerReport {
    return {
      index: this.#config.index,
      ops: { ...this.#counts },
      errorSamples: this.#errors.slice(0, 20),
      reads: this.#reads,
      writes: this.#writes,
      propagation: this.#propagation,
      flushes: this.#flushes,
      warnings: this.#warningCount,
      warningSamples: this.#warnings,
      stats: this.#cache.stats(),
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  async #close(): Promise<void> {
    await this.stop()
    diagnostics.unsubscribe('tiercache:invalidated', this.#onInvalidated)
    diagnostics.unsubscribe('tiercache:flush', this.#onFlush)
    diagnostics.unsubscribe('tiercache:tier', this.#onTier)
    await this.#cache.close()
    await this.#pool.end()
  }

  async #lane(progress: (ops: number) => void): Promise<void> {
    const c = this.#config
    while (!this.#stopping) {
      const r = this.#random()
      try {
        if (r < c.readFraction) await this.#read(this.#pickId())
        else if (r < c.readFraction + c.getManyFraction) await this.#getMany()
        else await this.#write(this.#pickId())
      } catch (error) {
        this.#counts.errors++
        if (this.#errors.length < 20) this.#errors.push((error as Error).stack ?? String(error))
      }
      this.#ops++
      if (this.#ops % c.progressEvery === 0) progress(this.#ops)
      // An L1 hit resolves without I/O: without this, a lane of hits would starve the event loop
      // (bus deliveries, IPC, timers) and the run would measure its own starvation.
      if (c.paceMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#random() * 2 * c.paceMs))
      else await new Promise((resolve) => setImmediate(resolve))
    }
  }

  #pickId(): number {
    const c = this.#config
    if (c.hotKeys > 0 && this.#random() < c.hotFraction) return Math.floor(this.#random() * c.hotKeys)
    return Math.floor(this.#random() * c.keys)
  }

  async #select(id: number, signal: AbortSignal): Promise<Row> {
    const result = await this.#pool.query<Row>(`select id, version, data from ${this.#config.table} where id = $1`, [id])
    if (signal.aborted) throw signal.reason
    const row = result.rows[0]
    if (row === undefined) throw new Error(`row ${id} is missing`)
    return row
  }

  async #read(id: number): Promise<void> {
    this.#counts.reads++
    const start = wallNow()
    const result = await this.#cache.getOrSetEntry<Row>(keyOf(id), async (ctx) => {
      const row = await this.#select(id, ctx.signal)
      ctx.setVersion(row.version)
      return row
    }, { tags: [tagOf(id)] })
    const end = wallNow()
    if (result.value.id !== id) throw new Error(`key ${keyOf(id)} returned row ${result.value.id}`)
    this.#reads.push([id, result.value.version, start, end, READ_SOURCES.indexOf(result.source), result.stale ? 1 : 0])
  }

  async #getMany(): Promise<void> {
    this.#counts.getMany++
    const ids = Array.from({ length: this.#config.getManySize }, () => this.#pickId())
    const start = wallNow()
    const values = await this.#cache.getMany<Row>(ids.map(keyOf))
    const end = wallNow()
    values.forEach((value, i) => {
      if (value !== undefined) this.#reads.push([ids[i] as number, value.version, start, end, READ_SOURCES.indexOf('getMany'), 0])
    })
  }

  async #write(id: number): Promise<void> {
    this.#counts.writes++
    const c = this.#config
    const client = await this.#pool.connect()
    let row: Row
    try {
      await client.query('begin')
      const result = await client.query<Row>(
        `update ${c.table} set version = version + 1, data = $2 where id = $1 returning id, version, data`,
        [id, `w${c.index}-${this.#ops}-${Math.floor(this.#random() * 1e9).toString(36)}`])
      await client.query('commit')
      row = result.rows[0] as Row
    } catch (error) {
      await client.query('rollback').catch(() => {})
      throw error
    } finally {
      client.release()
    }
    const committedAt = wallNow()
    // Real writers do other work between their commit and their invalidation: this widens the
    // write/write and write/fill races the run is looking for.
    if (c.postCommitDelayMs > 0 && this.#random() < 0.5) {
      await new Promise((resolve) => setTimeout(resolve, this.#random() * c.postCommitDelayMs))
    }
    const methods = this.#methodsByParity[id % 2] as readonly WriteMethod[]
    const method = methods[Math.floor(this.#random() * methods.length)] ?? 'delete'
    switch (method) {
      case 'delete':
        await this.#cache.delete(keyOf(id))
        break
      case 'invalidate':
        await this.#cache.invalidate({ keys: [keyOf(id)], version: row.version })
        break
      case 'tags':
        await this.#cache.invalidateTags([tagOf(id)])
        break
      case 'set':
        await this.#cache.set(keyOf(id), row, { version: row.version, tags: [tagOf(id)] })
        break
    }
    const invalidatedAt = wallNow()
    const queued = this.#cache.stats().coherence.pendingInvalidations > 0 ? 1 : 0
    this.#writes.push([id, row.version, committedAt, invalidatedAt, WRITE_METHODS.indexOf(method), queued])
  }
}

let worker: Worker | undefined

function send(reply: Reply): void {
  if (process.connected) process.send?.(reply)
}

async function handle(request: Request): Promise<unknown> {
  if (request.cmd === 'init') {
    worker = new Worker(request.config)
    if (!request.config.cold) await worker.ready()
    return null
  }
  if (worker === undefined) throw new Error(`"${request.cmd}" before "init"`)
  switch (request.cmd) {
    case 'run':
      worker.run((ops) => send({ event: 'progress', ops }))
      return null
    case 'stop':
      return worker.stop()
    case 'status':
      return worker.status()
    case 'peek':
      return worker.peek()
    case 'report':
      return worker.report()
    case 'close':
      await worker.close()
      return null
  }
}

process.on('message', (request: Request) => {
  handle(request).then(
    (result) => {
      send({ id: request.id, ok: true, result: result ?? null })
      if (request.cmd === 'close') process.disconnect()
    },
    (error: unknown) => { send({ id: request.id, ok: false, error: (error as Error).stack ?? String(error) }) },
  )
})
// The orchestrator went away (it crashed or was killed): do not linger.
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 2_000).unref()
  void (worker?.close() ?? Promise.resolve()).catch(() => {}).finally(() => process.exit(0))
})
