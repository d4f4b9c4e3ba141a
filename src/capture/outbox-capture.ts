import { randomBytes } from 'node:crypto'
import { systemClock } from '../core/clock.js'
import { InvalidOptionError } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { Database } from '../db/database.js'
import type { CaptureStats, ChangeCapture, InvalidationSink } from '../ports/capture.js'
import type { Clock, TimerHandle } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import { renderTemplate } from './mapping.js'
import type { CaptureMapping, TableMapping } from './mapping.js'
import { checkInstalled, checkMappingAgainst, outboxNames } from './outbox-schema.js'

/** Options of {@link startOutboxCapture}. */
export interface OutboxCaptureOptions {
  readonly db: Database
  readonly mapping: CaptureMapping
  /** Where invalidations go: every tier and node (see cache-sink.ts). */
  readonly sink: InvalidationSink
  /** Longest time a change waits when its NOTIFY was lost (ms). Default 1000. */
  readonly pollInterval?: number
  /** Rows read and published per step. Default 1000. */
  readonly batchSize?: number
  /** How long the lease lasts without renewal: a dead invalidator is replaced after this (ms). Default 5000. */
  readonly leaseTtl?: number
  /** This invalidator's name in the lease row. Default: host-independent random id. */
  readonly holder?: string
  readonly clock?: Clock
  readonly logger?: Logger
}

interface OutboxRow extends Record<string, unknown> {
  xmin: string
  depth: string
  id: string | null
  xid: string | null
  table_name: string | null
  op: string | null
  row_values: Record<string, unknown> | null
  version: string | null
  age_ms: number | null
}

const WINDOW_MS = 10_000
/** Invalidation messages published at once (each is one L2 script and one stream append). */
const PUBLISH_CONCURRENCY = 32
const MAX_KEY_BYTES = 1024

/**
 * Starts the outbox invalidator: checks the mapping against the database (and that `--install`
 * ran), then follows the outbox until closed.
 *
 * **Reading in a commit-safe order.** The outbox's `id` is a sequence: it is drawn when a trigger
 * runs, not when its transaction commits, so a transaction can commit *later* with a *smaller* id
 * than rows already read. A cursor on `id` alone would skip it forever. Instead every row carries
 * its writer's transaction id (`xid`), and each read takes only rows with `xid` below the xmin of
 * the reading statement's own snapshot (`pg_snapshot_xmin(pg_current_snapshot())`): every
 * transaction below xmin has finished, so the set of such rows is final (a rolled-back one left
 * none; one still running, or not begun, gets an xid at or above xmin). Within that final set the
 * order `(xid, id)` is fixed, so the cursor `(xid, id)` never passes a row that could still appear.
 * The price: a long-running writing transaction holds back capture (of everything) until it ends.
 *
 * **At least once.** A batch is published, the sink confirms it, then the cursor advances and the
 * batch's rows are deleted, in one statement that also checks this invalidator still holds the
 * lease. A crash in between publishes the batch again: invalidations are idempotent.
 *
 * **One active invalidator per outbox.** A lease row (holder, expiry by the database's clock),
 * renewed at every step; a standby polls it and takes over once it expired. A lease row instead of
 * an advisory lock works the same on PGlite and through a connection pool.
 *
 * **NOTIFY only wakes.** The trigger notifies on commit; the invalidator also polls every
 * `pollInterval`, which bounds the delay of a lost notification.
 */
export async function startOutboxCapture(options: OutboxCaptureOptions): Promise<ChangeCapture> {
  const pollInterval = positive(options.pollInterval, 1000, 'pollInterval')
  const batchSize = positive(options.batchSize, 1000, 'batchSize')
  const leaseTtl = positive(options.leaseTtl, 5000, 'leaseTtl')
  if (pollInterval * 2 > leaseTtl) throw new InvalidOptionError('pollInterval', `at most half of leaseTtl (${leaseTtl} ms), so the lease is renewed in time`, pollInterval)
  await checkMappingAgainst(options.db, options.mapping)
  await checkInstalled(options.db, options.mapping)
  const capture = new OutboxCapture(options, { pollInterval, batchSize, leaseTtl })
  await capture.start()
  return capture
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value <= 0) throw new InvalidOptionError(name, 'a positive integer (ms or rows)', value)
  return value
}

class OutboxCapture implements ChangeCapture {
  readonly #db: Database
  readonly #mapping: CaptureMapping
  readonly #tables: Map<string, TableMapping>
  readonly #sink: InvalidationSink
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #holder: string
  readonly #names: ReturnType<typeof outboxNames>
  readonly #pollInterval: number
  readonly #batchSize: number
  readonly #leaseTtl: number
  #unlisten: (() => Promise<void>) | undefined
  #timer: TimerHandle = undefined
  #running: Promise<void> | undefined
  #again = false
  #closed = false
  #active = false
  /** Every transaction with an xid below this has been published. */
  #publishedBelow = 0n
  #waiters: { xid: bigint; resolve: () => void; reject: (e: Error) => void }[] = []
  #failing = false
  readonly #window: [number, number][] = []
  #stats = { published: 0, messages: 0, lagMs: 0, maxLagMs: 0, depth: 0, errors: 0, skipped: 0, takeovers: 0, steps: 0 }

  constructor(options: OutboxCaptureOptions, limits: { pollInterval: number; batchSize: number; leaseTtl: number }) {
    this.#db = options.db
    this.#mapping = options.mapping
    this.#tables = new Map(options.mapping.tables.map((t) => [t.table, t]))
    this.#sink = options.sink
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    this.#holder = options.holder ?? `cdc-${process.pid}-${randomBytes(4).toString('hex')}`
    this.#names = outboxNames(options.mapping)
    this.#pollInterval = limits.pollInterval
    this.#batchSize = limits.batchSize
    this.#leaseTtl = limits.leaseTtl
  }

  async start(): Promise<void> {
    try {
      this.#unlisten = await this.#db.listen(this.#names.channel, () => this.#wake())
    } catch (error) {
      // Without the wake-up, changes arrive within pollInterval: slower, still complete.
      this.#logger.warn({ error: (error as Error).message, channel: this.#names.channel }, 'change capture: LISTEN failed; polling only')
    }
    this.#wake()
  }

  stats(): CaptureStats {
    const now = this.#clock.now()
    while (this.#window.length > 0 && this.#window[0]![0] < now - WINDOW_MS) this.#window.shift()
    const changes = this.#window.reduce((sum, [, n]) => sum + n, 0)
    return { mode: 'outbox', active: this.#active, changesPerSecond: changes / (WINDOW_MS / 1000), ...this.#stats }
  }

  waitFor(xid: bigint): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('change capture closed'))
    if (xid < this.#publishedBelow) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.#waiters.push({ xid, resolve, reject })
      this.#wake()
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clock.clearTimeout(this.#timer)
    await this.#running
    await this.#unlisten?.().catch(() => {})
    for (const w of this.#waiters.splice(0)) w.reject(new Error('change capture closed'))
    if (this.#active) {
      // Given back, so a standby takes over now rather than when the lease would have expired.
      await this.#db.query(`update ${this.#names.state} set holder = null, lease_until = null where name = $1 and holder = $2`,
        [this.#mapping.outbox, this.#holder]).catch(() => {})
      this.#active = false
    }
  }

  /** Runs a step now, or right after the one running. */
  #wake(): void {
    if (this.#closed) return
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    this.#clock.clearTimeout(this.#timer)
    this.#running = this.#step().finally(() => {
      this.#running = undefined
      if (this.#closed) return
      if (this.#again) {
        this.#again = false
        this.#wake()
      }
    })
  }

  #schedule(ms: number): void {
    if (this.#closed) return
    this.#clock.clearTimeout(this.#timer)
    this.#timer = this.#clock.setTimeout(() => this.#wake(), ms)
  }

  async #step(): Promise<void> {
    let more = false
    try {
      more = await this.#drainOnce()
      if (this.#failing) {
        this.#failing = false
        this.#logger.warn({ outbox: this.#names.outbox }, 'change capture: publishing again')
      }
    } catch (error) {
      this.#stats.errors++
      if (!this.#failing) {
        this.#failing = true
        this.#logger.error({ outbox: this.#names.outbox, error: (error as Error).message }, 'change capture: step failed; retrying (the cursor did not move)')
      }
    }
    this.#stats.steps++
    if (more && !this.#failing) this.#again = true
    else this.#schedule(this.#pollInterval)
  }

  /** One step: hold the lease, read a batch, publish it, advance. True when more rows are waiting. */
  async #drainOnce(): Promise<boolean> {
    const cursor = await this.#lease()
    if (cursor === undefined) return false
    const { rows } = await this.#db.query<OutboxRow>(`
      with h as (select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as xmin)
      select h.xmin::text as xmin, (select count(*) from ${this.#names.outbox})::text as depth,
             o.id::text as id, o.xid::text as xid, o.table_name, o.op, o.row_values, o.version::text as version,
             (extract(epoch from clock_timestamp() - o.written_at) * 1000)::float8 as age_ms
        from h left join lateral (
          select * from ${this.#names.outbox} o
           where (o.xid, o.id) > ($1::bigint, $2::bigint) and o.xid < h.xmin
           order by o.xid, o.id limit $3) o on true`, [cursor.xid, cursor.id, this.#batchSize])
    const xmin = BigInt(rows[0]!.xmin)
    this.#stats.depth = Number(rows[0]!.depth)
    const batch = rows.filter((r) => r.id !== null)
    if (batch.length === 0) {
      this.#advanceHorizon(xmin)
      return false
    }
    const started = this.#clock.now()
    await this.#publish(batch)
    const last = batch[batch.length - 1]!
    const { rows: moved } = await this.#db.query<{ ok: number }>(`
      with s as (
        update ${this.#names.state} set cursor_xid = $3::bigint, cursor_id = $4::bigint,
               lease_until = clock_timestamp() + $5::int * interval '1 millisecond'
         where name = $1 and holder = $2 and lease_until > clock_timestamp() returning 1),
      d as (delete from ${this.#names.outbox} where (xid, id) <= ($3::bigint, $4::bigint) and exists (select 1 from s))
      select count(*)::int as ok from s`, [this.#mapping.outbox, this.#holder, last.xid, last.id, this.#leaseTtl])
    if (moved[0]?.ok !== 1) {
      // Lost the lease while publishing (paused past its expiry): another invalidator owns the
      // cursor now. What was published is harmless; it republishes from its own cursor.
      this.#lostLease()
      return false
    }
    const lag = Math.max(...batch.map((r) => r.age_ms ?? 0)) + (this.#clock.now() - started)
    this.#stats.lagMs = Math.round(lag)
    this.#stats.maxLagMs = Math.max(this.#stats.maxLagMs, this.#stats.lagMs)
    this.#stats.published += batch.length
    this.#stats.depth = Math.max(0, this.#stats.depth - batch.length)
    this.#window.push([this.#clock.now(), batch.length])
    const full = batch.length === this.#batchSize
    // All of the final set below xmin is published when the batch was not full; otherwise
    // everything below the cursor's xid is.
    this.#advanceHorizon(full ? BigInt(last.xid!) : xmin)
    return full
  }

  /** Takes or renews the lease; the cursor when held, undefined when another invalidator holds it. */
  async #lease(): Promise<{ xid: string; id: string } | undefined> {
    const { rows } = await this.#db.query<{ xid: string; id: string; took: boolean }>(`
      update ${this.#names.state} set holder = $2, lease_until = clock_timestamp() + $3::int * interval '1 millisecond'
       where name = $1 and (holder is null or holder = $2 or lease_until is null or lease_until < clock_timestamp())
       returning cursor_xid::text as xid, cursor_id::text as id`, [this.#mapping.outbox, this.#holder, this.#leaseTtl])
    const row = rows[0]
    if (row === undefined) {
      if (this.#active) this.#lostLease()
      return undefined
    }
    if (!this.#active) {
      this.#active = true
      this.#stats.takeovers++
      this.#logger.warn({ outbox: this.#names.outbox, holder: this.#holder }, 'change capture: this invalidator is now the active one')
    }
    return row
  }

  #lostLease(): void {
    this.#active = false
    this.#logger.warn({ outbox: this.#names.outbox, holder: this.#holder }, 'change capture: lease lost; standing by')
  }

  #advanceHorizon(below: bigint): void {
    if (below <= this.#publishedBelow) return
    this.#publishedBelow = below
    const waiting = this.#waiters
    this.#waiters = waiting.filter((w) => w.xid >= below)
    for (const w of waiting) if (w.xid < below) w.resolve()
  }

  /**
   * Turns rows into invalidations, deduplicated, one message per source version (the version
   * goes with the whole message), and publishes them. Throws unless every one was confirmed.
   */
  async #publish(batch: readonly OutboxRow[]): Promise<void> {
    const groups = new Map<string, { keys: Set<string>; tags: Set<string>; version: number | undefined }>()
    for (const row of batch) {
      const table = this.#tables.get(row.table_name!)
      if (table === undefined) {
        // A trigger left by an older mapping: nothing here says what to invalidate.
        this.#skip(row, 'its table is not in the mapping (left from an older mapping? run --install again)')
        continue
      }
      const version = row.version === null ? undefined : Number(row.version)
      const group = groups.get(String(version)) ?? { keys: new Set(), tags: new Set(), version }
      groups.set(String(version), group)
      const values = row.row_values ?? {}
      const key = table.key === undefined ? undefined : renderTemplate(table.key, values)
      if (key !== undefined) {
        if (valid(key)) group.keys.add(key)
        else this.#skip(row, `key ${JSON.stringify(key.slice(0, 60))} is not a valid cache key`)
      }
      for (const template of table.tags) {
        const tag = renderTemplate(template, values)
        if (tag === undefined) continue
        if (valid(tag)) group.tags.add(tag)
        else this.#skip(row, `tag ${JSON.stringify(tag.slice(0, 60))} is not a valid tag`)
      }
    }
    const messages = [...groups.values()].filter((g) => g.keys.size + g.tags.size > 0)
    let failed = 0
    for (let i = 0; i < messages.length; i += PUBLISH_CONCURRENCY) {
      const results = await Promise.all(messages.slice(i, i + PUBLISH_CONCURRENCY).map((g) =>
        this.#sink.invalidate({ keys: [...g.keys], tags: [...g.tags], version: g.version }).catch(() => false)))
      failed += results.filter((ok) => !ok).length
    }
    if (failed > 0) throw new Error(`${failed} of ${messages.length} invalidations were not confirmed by every tier`)
    this.#stats.messages += messages.length
  }

  #skip(row: OutboxRow, why: string): void {
    this.#stats.skipped++
    this.#logger.error({ outbox: this.#names.outbox, table: row.table_name, id: row.id }, `change capture: change skipped: ${why}`)
  }
}

function valid(text: string): boolean {
  return text !== '' && Buffer.byteLength(text) <= MAX_KEY_BYTES
}
