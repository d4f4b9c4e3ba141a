import { systemClock } from '../core/clock.js'
import { InvalidOptionError } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { CaptureStats, ChangeCapture, InvalidationSink } from '../ports/capture.js'
import type { Clock, TimerHandle } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import { CaptureConfigError } from './capture-errors.js'
import { renderTemplate } from './mapping.js'
import type { CaptureMapping, TableMapping } from './mapping.js'
import { checkMappingAgainst } from './outbox-schema.js'

/** Options of {@link startLogicalCapture}. */
export interface LogicalCaptureOptions {
  /** The PostgreSQL server (`wal_level=logical`); a user allowed to replicate (REPLICATION or superuser). */
  readonly databaseUrl: string
  readonly mapping: CaptureMapping
  readonly sink: InvalidationSink
  /** The replication slot (created when missing). Default `<outbox>_slot`. */
  readonly slot?: string
  /** The publication (created or updated to the mapped tables). Default `<outbox>_pub`. */
  readonly publication?: string
  /** How often a standby tries the slot, and how long a failed publish waits before it is retried (ms). Default 1000. */
  readonly retryInterval?: number
  readonly clock?: Clock
  readonly logger?: Logger
}

interface Relation { schema: string; name: string; keyColumns: string[] }
type Row = Record<string, unknown> | null
interface PgoutputMessage {
  tag: string
  xid?: number
  commitTime?: bigint
  relation?: Relation
  relations?: Relation[]
  key?: Row
  old?: Row
  new?: Row
}

interface Tx { xid: number; commitTime: bigint; keys: Map<string, number>; tags: Set<string>; changes: number }
interface Service { stop(): Promise<unknown>; acknowledge(lsn: string, ping?: boolean): Promise<boolean> }

const WINDOW_MS = 10_000
const MAX_KEY_BYTES = 1024

/**
 * Logical-replication capture (the scale mode): follows a replication slot with the `pgoutput`
 * plugin, through `pg-logical-replication` (maintained, built on `pg`, which tiercache already
 * uses; it parses pgoutput's binary protocol, including TRUNCATE, and lets the consumer
 * acknowledge by hand with back-pressure). Nothing is written in the application's transactions:
 * the WAL is the log.
 *
 * Each transaction's changes are collected until its COMMIT, published through the sink, and only
 * once that is confirmed is the commit's LSN acknowledged to the server, so the slot keeps
 * everything not yet published: a crash replays it (at least once). A rolled-back transaction is
 * never sent by the server.
 *
 * One consumer per slot: PostgreSQL lets one connection stream a slot at a time. A second
 * invalidator is refused ("slot is active") and tries again every `retryInterval`; when the first
 * one's connection dies, the server frees the slot and the second takes over.
 *
 * The source version sent with an invalidation is the row's `version` column when the mapping
 * names one (as in outbox mode), not the commit LSN: loaders report row versions
 * (`ctx.setVersion(row.version)`), and a tombstone must compare like with like.
 *
 * Old values of non-key columns (a tag such as `category:{category_id}` on DELETE or on UPDATE) are
 * sent only with `REPLICA IDENTITY FULL`; the start-up check refuses a mapping that needs them
 * when the table does not have it.
 */
export async function startLogicalCapture(options: LogicalCaptureOptions): Promise<ChangeCapture> {
  const retryInterval = options.retryInterval ?? 1000
  if (!Number.isInteger(retryInterval) || retryInterval <= 0) throw new InvalidOptionError('retryInterval', 'a positive integer (ms)', retryInterval)
  const { openPostgres } = await import('../db/pg-database.js')
  const db = await openPostgres(options.databaseUrl)
  const slot = options.slot ?? `${options.mapping.outbox}_slot`
  const publication = options.publication ?? `${options.mapping.outbox}_pub`
  const tables = new Map<string, TableMapping>()
  try {
    const { rows: level } = await db.query<{ wal_level: string }>('show wal_level')
    if (level[0]?.wal_level !== 'logical') {
      throw new CaptureConfigError('E_CDC_SCHEMA', `logical mode needs wal_level=logical on the server (it is ${level[0]?.wal_level}): set it and restart the server, or use the outbox mode`)
    }
    await checkMappingAgainst(db, options.mapping)
    for (const t of options.mapping.tables) {
      const qualified = t.schema === undefined ? `"${t.name}"` : `"${t.schema}"."${t.name}"`
      const { rows } = await db.query<{ schema: string; identity: string; pk: string[] }>(`
        select n.nspname as schema, c.relreplident as identity,
               coalesce((select array_agg(a.attname::text) from pg_index i join pg_attribute a on a.attrelid = c.oid and a.attnum = any (i.indkey::int2[])
                          where i.indrelid = c.oid and i.indisprimary), '{}') as pk
          from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)`, [qualified])
      const info = rows[0]!
      const extra = t.columns.filter((c) => !info.pk.includes(c))
      if (extra.length > 0 && info.identity !== 'f') {
        throw new CaptureConfigError('E_CDC_SCHEMA', `tables.${t.table}: its templates name ${extra.join(', ')}, which are not in the primary key: ` +
          `the old row's values reach logical replication only with "alter table ${qualified} replica identity full"`, { table: t.table })
      }
      tables.set(`${info.schema}.${t.name}`, t)
    }
    const list = options.mapping.tables.map((t) => t.schema === undefined ? `"${t.name}"` : `"${t.schema}"."${t.name}"`).join(', ')
    const { rows: pubs } = await db.query('select 1 from pg_publication where pubname = $1', [publication])
    await db.query(pubs.length === 0 ? `create publication "${publication}" for table ${list}` : `alter publication "${publication}" set table ${list}`)
      .catch((error: { code?: string }) => { if (error.code !== '42710') throw error }) // created meanwhile by another invalidator
    await db.query(`select pg_create_logical_replication_slot($1, 'pgoutput') where not exists (select 1 from pg_replication_slots where slot_name = $1)`, [slot])
      .catch((error: { code?: string }) => { if (error.code !== '42710') throw error })
  } finally {
    await db.close()
  }
  const capture = new LogicalCapture(options, tables, slot, publication, retryInterval)
  capture.start()
  return capture
}

class LogicalCapture implements ChangeCapture {
  readonly #options: LogicalCaptureOptions
  readonly #tables: Map<string, TableMapping>
  readonly #slot: string
  readonly #publication: string
  readonly #retryInterval: number
  readonly #clock: Clock
  readonly #logger: Logger
  /** Every replication connection opened and not yet stopped (close() stops them all, whatever state they are in). */
  readonly #services = new Set<Service>()
  #timer: TimerHandle = undefined
  #closed = false
  #active = false
  #acked = '0/0'
  #tx: Tx | undefined
  #waiters: { xid: number; resolve: () => void; reject: (e: Error) => void }[] = []
  /**
   * Commits are published and acknowledged one after the other, in the order the server sent
   * them: an acknowledgement confirms everything before its LSN, so a later commit must never be
   * acknowledged before an earlier one was published.
   */
  #chain: Promise<void> = Promise.resolve()
  readonly #window: [number, number][] = []
  #stats = { published: 0, messages: 0, lagMs: 0, maxLagMs: 0, depth: 0, errors: 0, skipped: 0, takeovers: 0, steps: 0 }

  constructor(options: LogicalCaptureOptions, tables: Map<string, TableMapping>, slot: string, publication: string, retryInterval: number) {
    this.#options = options
    this.#tables = tables
    this.#slot = slot
    this.#publication = publication
    this.#retryInterval = retryInterval
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
  }

  start(): void {
    void this.#connect()
  }

  stats(): CaptureStats {
    const now = this.#clock.now()
    while (this.#window.length > 0 && this.#window[0]![0] < now - WINDOW_MS) this.#window.shift()
    const changes = this.#window.reduce((sum, [, n]) => sum + n, 0)
    return { mode: 'logical', active: this.#active, changesPerSecond: changes / (WINDOW_MS / 1000), ...this.#stats }
  }

  /**
   * Resolves once the transaction's changes were published. The server sends only transactions
   * that changed a published table, so wait only for those (the catalog's writes always are).
   */
  waitFor(xid: bigint): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('change capture closed'))
    // pgoutput carries the 32-bit transaction id; pg_current_xact_id() adds the epoch above it.
    const low = Number(xid & 0xffffffffn)
    return new Promise((resolve, reject) => this.#waiters.push({ xid: low, resolve, reject }))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clock.clearTimeout(this.#timer)
    await Promise.all([...this.#services].map((s) => s.stop().catch(() => {})))
    this.#active = false
    for (const w of this.#waiters.splice(0)) w.reject(new Error('change capture closed'))
  }

  async #connect(): Promise<void> {
    if (this.#closed) return
    this.#stats.steps++
    const { LogicalReplicationService, PgoutputPlugin } = await import('pg-logical-replication')
    if (this.#closed) return
    // A new service each time: a reused one would resume from the last LSN it *received*, past
    // what was acknowledged; a new one resumes from the slot's confirmed position.
    const service = new LogicalReplicationService({ connectionString: this.#options.databaseUrl },
      // Flow control: the library pauses the socket until a handler's promise settles, so a slow
      // publish holds the stream back (back-pressure) instead of queueing in memory.
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } })
    this.#services.add(service)
    service.on('start', () => {
      // Closed while connecting: the stream must not outlive close().
      if (this.#closed) return void service.stop().catch(() => {})
      this.#active = true
      this.#stats.takeovers++
      this.#logger.warn({ slot: this.#slot }, 'change capture: this invalidator is now streaming the slot')
    })
    service.on('heartbeat', (_lsn: string, _at: number, shouldRespond: boolean) => {
      // Keep the connection alive, confirming only what was published.
      if (shouldRespond) void service.acknowledge(this.#acked).catch(() => {})
    })
    service.on('data', (lsn: string, message: PgoutputMessage) => this.#onMessage(lsn, message, service))
    this.#chain = Promise.resolve()
    service.on('error', () => {})
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.#publication] })
    try {
      await service.subscribe(plugin, this.#slot)
    } catch (error) {
      // Most often: another invalidator streams the slot. Stand by and try again.
      if (this.#active) this.#logger.warn({ slot: this.#slot, error: (error as Error).message }, 'change capture: replication stream lost; reconnecting')
    }
    this.#active = false
    this.#tx = undefined
    await service.stop().catch(() => {})
    this.#services.delete(service)
    if (!this.#closed) this.#timer = this.#clock.setTimeout(() => void this.#connect(), this.#retryInterval)
  }

  #onMessage(lsn: string, message: PgoutputMessage, service: Service): Promise<void> | undefined {
    switch (message.tag) {
      case 'begin':
        this.#tx = { xid: message.xid!, commitTime: message.commitTime!, keys: new Map(), tags: new Set(), changes: 0 }
        return
      case 'insert':
      case 'update':
      case 'delete': {
        const tx = this.#tx
        const rel = message.relation!
        const table = this.#tables.get(`${rel.schema}.${rel.name}`)
        if (tx === undefined || table === undefined) return
        tx.changes++
        for (const image of [message.old ?? message.key, message.new]) {
          if (image !== null && image !== undefined) this.#collect(tx, table, image)
        }
        return
      }
      case 'truncate': {
        // No rows to name: every constant tag of the table (lists built from it) goes.
        const tx = this.#tx
        if (tx === undefined) return
        for (const rel of message.relations ?? []) {
          const table = this.#tables.get(`${rel.schema}.${rel.name}`)
          for (const t of table?.tags ?? []) if (t.columns.length === 0) tx.tags.add(t.source)
          tx.changes++
        }
        return
      }
      case 'commit': {
        const tx = this.#tx
        this.#tx = undefined
        if (tx === undefined) return
        this.#chain = this.#chain.then(() => this.#commit(tx, lsn, service)).catch((error: unknown) => {
          // Not acknowledged: the server sends it again after a reconnect. Reconnect now.
          this.#logger.error({ slot: this.#slot, error: (error as Error).message }, 'change capture: a commit could not be published; reconnecting')
          void service.stop().catch(() => {})
        })
        return this.#chain
      }
      default:
    }
  }

  /** Publishes one transaction, then acknowledges its LSN (only then may the server forget it). */
  async #commit(tx: Tx, lsn: string, service: Service): Promise<void> {
    await this.#publish(tx)
    if (!(await service.acknowledge(lsn))) throw new Error('the replication connection closed before the acknowledgement')
    this.#acked = lsn
    const lag = this.#clock.now() - Number(tx.commitTime / 1000n)
    this.#stats.lagMs = Math.max(0, Math.round(lag))
    this.#stats.maxLagMs = Math.max(this.#stats.maxLagMs, this.#stats.lagMs)
    this.#stats.published += tx.changes
    this.#window.push([this.#clock.now(), tx.changes])
    const waiting = this.#waiters
    this.#waiters = waiting.filter((w) => w.xid !== tx.xid)
    for (const w of waiting) if (w.xid === tx.xid) w.resolve()
  }

  #collect(tx: Tx, table: TableMapping, image: Record<string, unknown>): void {
    const version = table.version === undefined || image[table.version] === undefined || image[table.version] === null ? undefined : Number(image[table.version])
    const key = table.key === undefined ? undefined : renderTemplate(table.key, image)
    if (key !== undefined) {
      if (valid(key)) tx.keys.set(key, Math.max(version ?? -Infinity, tx.keys.get(key) ?? -Infinity))
      else this.#skip(table, 'key')
    }
    for (const template of table.tags) {
      const tag = renderTemplate(template, image)
      if (tag === undefined) continue
      if (valid(tag)) tx.tags.add(tag)
      else this.#skip(table, 'tag')
    }
  }

  /** Publishes one transaction's invalidations (one message per source version), retrying until confirmed. */
  async #publish(tx: Tx): Promise<void> {
    const groups = new Map<number | undefined, string[]>()
    for (const [key, version] of tx.keys) {
      const v = Number.isFinite(version) ? version : undefined
      groups.set(v, [...(groups.get(v) ?? []), key])
    }
    const messages = [...groups].map(([version, keys], i) => ({ keys, tags: i === 0 ? [...tx.tags] : [], version }))
    if (messages.length === 0 && tx.tags.size > 0) messages.push({ keys: [], tags: [...tx.tags], version: undefined })
    for (;;) {
      const results = await Promise.all(messages.map((m) => this.#options.sink.invalidate(m).catch(() => false)))
      if (results.every(Boolean)) break
      if (this.#stats.errors++ === 0 || this.#stats.errors % 10 === 0) {
        this.#logger.error({ slot: this.#slot, errors: this.#stats.errors }, 'change capture: an invalidation was not confirmed by every tier; retrying before acknowledging')
      }
      if (this.#closed) throw new Error('closed before the invalidation was confirmed')
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, this.#retryInterval))
    }
    this.#stats.messages += messages.length
  }

  #skip(table: TableMapping, what: string): void {
    this.#stats.skipped++
    this.#logger.error({ table: table.table }, `change capture: a change rendered an invalid ${what}; skipped`)
  }
}

function valid(text: string): boolean {
  return text !== '' && Buffer.byteLength(text) <= MAX_KEY_BYTES
}
