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
  snapshot: string
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
 * **Never skipping a change that commits late.** The outbox's `id` is a sequence: it is drawn when
 * a trigger runs, not when its transaction commits, so a transaction can commit *later* with a
 * *smaller* id than rows already read. A cursor on `id` ("everything up to 41 is done") would skip
 * such a row forever. So there is no such cursor: the outbox itself is the queue. Each step reads
 * the committed rows (whatever its snapshot sees, oldest id first), publishes them, and deletes
 * exactly those rows by id. A row that commits later becomes visible later and is read then,
 * whatever its id; a rolled-back transaction's rows never become visible. Nothing waits for
 * unrelated transactions either: a long-running transaction elsewhere in the cluster holds back no
 * one (a cursor below the snapshot's xmin would wait for it, and any long transaction would then
 * stall every invalidation). Order across transactions does not change the outcome: an
 * invalidation removes, and source versions are compared, never overwritten by an older one.
 *
 * **At least once.** A batch is published, the sink confirms it, then its rows are deleted and the
 * state row records how far it got (the last id and its transaction, for operators), in one
 * statement that also checks this invalidator still holds the lease. A crash in between publishes
 * the batch again: invalidations are idempotent.
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
  #waiters: { xid: bigint; resolve: () => void; reject: (e: Error) => void }[] = []
  #failing = false
  /** When the lease was last renewed (this process's clock; the lease's own expiry is the database's). */
  #renewedAt = 0
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
    // Renewing costs a commit (a WAL flush): done when a third of the lease has gone by, or when
    // not holding it. Each batch's delete renews it as well, and is fenced on holding it.
    const fresh = this.#active && this.#clock.now() - this.#renewedAt < this.#leaseTtl / 3
    if (!fresh && (await this.#lease()) === undefined) return false
    // One statement: the snapshot it reports is the one its read used.
    const { rows } = await this.#db.query<OutboxRow>(`
      select pg_current_snapshot()::text as snapshot, (select count(*) from ${this.#names.outbox})::text as depth,
             o.id::text as id, o.xid::text as xid, o.table_name, o.op, o.row_values, o.version::text as version,
             (extract(epoch from clock_timestamp() - o.written_at) * 1000)::float8 as age_ms
        from (select 1) as one left join lateral (
          select * from ${this.#names.outbox} order by id limit $1) o on true`, [this.#batchSize])
    const snapshot = rows[0]!.snapshot
    this.#stats.depth = Number(rows[0]!.depth)
    const batch = rows.filter((r) => r.id !== null)
    const full = batch.length === this.#batchSize
    if (batch.length === 0) {
      this.#settled(snapshot)
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
      d as (delete from ${this.#names.outbox} where id = any($6::bigint[]) and exists (select 1 from s))
      select count(*)::int as ok from s`, [this.#mapping.outbox, this.#holder, last.xid, last.id, this.#leaseTtl, batch.map((r) => r.id)])
    if (moved[0]?.ok === 1) this.#renewedAt = started
    if (moved[0]?.ok !== 1) {
      // Lost the lease while publishing (paused past its expiry): another invalidator owns the
      // outbox now. What was published is harmless; the rows stay for it to publish again.
      this.#lostLease()
      return false
    }
    const lag = Math.max(...batch.map((r) => r.age_ms ?? 0)) + (this.#clock.now() - started)
    this.#stats.lagMs = Math.round(lag)
    this.#stats.maxLagMs = Math.max(this.#stats.maxLagMs, this.#stats.lagMs)
    this.#stats.published += batch.length
    this.#stats.depth = Math.max(0, this.#stats.depth - batch.length)
    this.#window.push([this.#clock.now(), batch.length])
    // Not full: every row the snapshot saw is published now.
    if (!full) this.#settled(snapshot)
    return full
  }

  /**
   * Everything committed before `snapshot` (`xmin:xmax:xip,...`) is published: resolves the
   * waiters whose transaction it shows as finished (below xmin, or below xmax and not running).
   */
  #settled(snapshot: string): void {
    if (this.#waiters.length === 0) return
    const [xminText, xmaxText, xipText] = snapshot.split(':')
    const xmin = BigInt(xminText!)
    const xmax = BigInt(xmaxText!)
    const running = new Set(xipText === undefined || xipText === '' ? [] : xipText.split(',').map((x) => BigInt(x)))
    const finished = (xid: bigint): boolean => xid < xmin || (xid < xmax && !running.has(xid))
    const waiting = this.#waiters
    this.#waiters = waiting.filter((w) => !finished(w.xid))
    for (const w of waiting) if (finished(w.xid)) w.resolve()
  }

  /** Takes or renews the lease; the cursor when held, undefined when another invalidator holds it. */
  async #lease(): Promise<{ xid: string; id: string } | undefined> {
    const before = this.#clock.now()
    const { rows } = await this.#db.query<{ xid: string; id: string; took: boolean }>(`
      update ${this.#names.state} set holder = $2, lease_until = clock_timestamp() + $3::int * interval '1 millisecond'
       where name = $1 and (holder is null or holder = $2 or lease_until is null or lease_until < clock_timestamp())
       returning cursor_xid::text as xid, cursor_id::text as id`, [this.#mapping.outbox, this.#holder, this.#leaseTtl])
    const row = rows[0]
    if (row === undefined) {
      if (this.#active) this.#lostLease()
      return undefined
    }
    this.#renewedAt = before
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
