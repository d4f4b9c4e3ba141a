import { randomBytes } from 'node:crypto'
import type { CacheEntry } from '../ports/entry.js'
import type { EnqueueResult, NewWrite, WriteQueue } from '../ports/write-queue.js'
import type { Coherence } from './coherence.js'
import type { EntryBuilder } from './entry-builder.js'
import { WriteBehindError, isTierCacheError } from './errors.js'
import { rejectWith } from './filler.js'
import { assertKey } from './key.js'
import type { L1Tier } from './l1-tier.js'
import type { CacheSettings } from './settings.js'
import type { SharedTier } from './shared-tier.js'
import { TierGuard } from './tier-guard.js'
import type { ResolvedWriteBehind } from './write-behind-options.js'
import type { FlushItem } from './write-behind-flusher.js'
import { Flusher, FlusherCounters } from './write-behind-flusher.js'
import type { Writer } from './writer.js'

/** What `write` resolves to once the write is durable in the queue. */
export interface WriteAck {
  readonly key: string
  /** The write's sequence number (what `flush` receives as `seq`). */
  readonly seq: number
}

/** A write in the dead letters, as `deadLetters()` shows it. */
export interface DeadLetterEntry<T = unknown> {
  /** Its id among the dead letters (for `retryDeadLetters` and `dropDeadLetters`). */
  readonly id: string
  readonly key: string
  /** The value, or undefined when it cannot be decoded (see `error`). */
  readonly value: T | undefined
  readonly seq: number
  /** When it was written, and when it was moved here (epoch ms). */
  readonly at: number
  readonly deadAt: number
  readonly attempts: number
  /** The last flush error's message. */
  readonly error: string
}

/** What `stats()` reports. Queue-wide figures are undefined when Redis did not answer. */
export interface WriteBehindStats {
  readonly name: string
  /** This process's flusher name in the queue's consumer group. */
  readonly consumer: string
  /** Writes queued and not yet flushed, by every process. */
  readonly pending: number | undefined
  /** Writes in the dead letters. */
  readonly deadLetters: number | undefined
  /** Writes this writer got acknowledged by the queue. */
  readonly written: number
  /** Writes this process flushed and removed from the queue (coalesced ones included). */
  readonly flushed: number
  /** Items this process's flushes took: rows written, one per key per batch. */
  readonly flushedItems: number
  /** `flushed / flushedItems`: queued writes per row written. */
  readonly coalescing: number
  readonly flushCalls: number
  readonly failedFlushes: number
  /** Writes waiting in this process for a retry of their flush. */
  readonly retrying: number
  /** Writes this process moved to the dead letters. */
  readonly deadLettered: number
  /** Writes this process took over from flushers that died. */
  readonly claimed: number
  /** Times this process found the queue lost (Redis restarted without persistence). */
  readonly queueLost: number
  /** Writes that waited for room (`whenFull: 'wait'`), and writes refused with `E_BACKPRESSURE`. */
  readonly backpressure: { readonly waited: number; readonly refused: number }
  /** Time from `write` to the end of its flush, over the last 10,000 writes this process flushed. */
  readonly lagMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly samples: number } | undefined
  /** Whether this process's last flush call succeeded. */
  readonly healthy: boolean
}

/** Writes of one tick on their way to the queue. */
interface SendBatch {
  readonly writes: NewWrite[]
  done: Promise<EnqueueResult[]>
}

/** Why a tick's enqueue failed, and whether its writes may have been queued anyway (each write then rejects with its own error). */
class SendFailure extends Error {
  readonly outcome: 'not-queued' | 'unknown'
  constructor(reason: string, outcome: 'not-queued' | 'unknown', cause?: unknown) {
    super(reason, cause === undefined ? undefined : { cause })
    this.outcome = outcome
  }
}

/** Of several entries for one key, only the newest version needs to reach the cache. */
function newestPerKey(entries: readonly [string, CacheEntry][]): [string, CacheEntry][] {
  const newest = new Map<string, CacheEntry>()
  for (const [key, entry] of entries) {
    const held = newest.get(key)
    if (held === undefined || (entry.version ?? 0) > (held.version ?? 0)) newest.set(key, entry)
  }
  return [...newest]
}


/** What a writer needs from the cache that opens it. */
export interface WriteBehindDeps {
  readonly settings: CacheSettings
  readonly queue: WriteQueue
  /** The adapter's rule for "Redis refused this one command" (never held against the breaker). */
  readonly isRejection: ((error: unknown) => boolean) | undefined
  readonly builder: EntryBuilder
  readonly writer: Writer
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  readonly coherence: Coherence
  /** Called once closed (the cache forgets it). */
  readonly onClose: () => void
}

/**
 * A durable write-behind writer (`cache.writeBehind(name, options)`). `write` resolves once the write
 * is stored in the queue (a Redis Stream), which outlives this process, and once the cache shows
 * the value (every tier; other nodes drop their L1 copy). Flushers, in every process that opened the
 * queue with a `flush`, write batches to the database and acknowledge them only afterwards (see
 * write-behind-flusher.ts).
 *
 * What rejects and what degrades: `write` is the one call that must not pretend. It rejects with
 * `E_BACKPRESSURE` (queue full), `E_WRITE_NOT_DURABLE` (Redis refused, unreachable or too slow;
 * `context.outcome` says `not-queued` or `unknown`) or `E_WRITER_CLOSED`, and then the cache was
 * not changed. Everything else degrades: the cache update after a durable write goes through the
 * guard (a failure invalidates the key through the outbox), flushers back off while Redis or the
 * database is down, and `stats()` answers with what it could read.
 */
export class WriteBehindWriter<T = unknown> {
  readonly name: string
  readonly #d: WriteBehindDeps
  readonly #o: ResolvedWriteBehind
  readonly #guard: TierGuard
  readonly #consumer = `${process.pid}-${randomBytes(6).toString('hex')}`
  readonly #counters = new FlusherCounters()
  readonly #flusher: Flusher | undefined
  readonly #inFlight = new Set<Promise<unknown>>()
  #written = 0
  #waited = 0
  #refused = 0
  #closing = false
  #closed: Promise<void> | undefined
  /** This tick's writes, queued together. */
  #sends: SendBatch | undefined
  /** Cache updates of the writes acknowledged in this tick, sent together (one bus message). */
  #shows: { entries: [string, CacheEntry][]; done: Promise<void> } | undefined

  constructor(name: string, deps: WriteBehindDeps, options: ResolvedWriteBehind) {
    this.name = name
    this.#d = deps
    this.#o = options
    const settings = deps.settings
    this.#guard = new TierGuard(`write-behind queue "${name}"`, {
      timeoutMs: options.timeout, threshold: 5, cooldownMs: 1_000, clock: settings.clock, logger: settings.logger, isRejection: deps.isRejection,
    })
    if (options.consume) {
      this.#flusher = new Flusher({
        queue: deps.queue, guard: this.#guard, options, serializer: settings.serializer, clock: settings.clock, logger: settings.logger,
        consumer: this.#consumer, counters: this.#counters,
        onFlushed: (items) => this.#afterFlush(items),
        onBuried: (key, seqs) => this.#afterBury(key, seqs),
      })
      this.#flusher.start()
    }
  }

  /**
   * Queues a write durably, then shows it in the cache. Resolves with its sequence number once
   * both are done; rejects (see the class comment) when it could not be queued, and then nothing
   * changed. The value must be cacheable (serializable, not undefined, within `maxValueBytes`).
   */
  write(key: string, value: T): Promise<WriteAck> {
    let work: Promise<WriteAck>
    try {
      if (this.#closing) throw this.#closedError()
      assertKey(key)
      const entry = this.#d.builder.build(key, value, {
        ttl: this.#o.ttl, grace: this.#o.grace, tags: [], tagVersions: undefined, loadMs: 0, version: undefined, maxLifetime: Number.POSITIVE_INFINITY,
      })
      work = this.#write(key, entry)
    } catch (error) {
      return rejectWith(error)
    }
    this.#inFlight.add(work)
    const done = (): void => { this.#inFlight.delete(work) }
    work.then(done, done)
    return work
  }

  /**
   * Resolves once every write queued before the call (by any process) has been flushed or moved to
   * the dead letters. Asks this process's flusher not to wait for `flushInterval`. Waits as long as
   * that takes: with no flusher running anywhere, until one starts.
   */
  async drain(): Promise<void> {
    if (this.#closing) throw this.#closedError()
    const { queue, settings } = this.#d
    let pause = 5
    let tail: string | undefined | null = null
    while (tail === null) {
      tail = await this.#guard.run(() => queue.tail(), null)
      if (tail === null) await this.#pause((pause = Math.min(pause * 2, 200)))
    }
    if (tail === undefined) return
    const last = tail
    pause = 5
    for (;;) {
      if (this.#closing) throw this.#closedError()
      this.#flusher?.hurry()
      if (!(await this.#guard.run(() => queue.holdsUpTo(last), true))) return
      await new Promise<void>((resolve) => settings.clock.setTimeout(resolve, (pause = Math.min(pause * 2, 100))))
    }
  }

  /**
   * Stops this writer: new writes reject with `E_WRITER_CLOSED`, writes in flight finish, the
   * flusher stops (a flush in flight is aborted; its writes stay queued and another flusher, or the
   * next process to open the queue, takes them over at once). Nothing queued is lost; to flush
   * everything first, `await drain()` before `close()`.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  /** Counters of this writer and, when Redis answers, of the whole queue. */
  async stats(): Promise<WriteBehindStats> {
    const { queue } = this.#d
    const [pending, deadLetters] = await Promise.all([
      this.#guard.run(() => queue.pending(), undefined),
      this.#guard.run(() => queue.deadCount(), undefined),
    ])
    const c = this.#counters
    return {
      name: this.name,
      consumer: this.#consumer,
      pending,
      deadLetters,
      written: this.#written,
      flushed: c.flushed,
      flushedItems: c.flushedItems,
      coalescing: c.flushedItems === 0 ? 0 : c.flushed / c.flushedItems,
      flushCalls: c.flushCalls,
      failedFlushes: c.failedFlushes,
      retrying: this.#flusher?.retrying ?? 0,
      deadLettered: c.deadLettered,
      claimed: c.claimed,
      queueLost: c.queueLost,
      backpressure: { waited: this.#waited, refused: this.#refused },
      lagMs: c.lag.summary(),
      healthy: this.#flusher?.healthy ?? true,
    }
  }

  /** The oldest dead letters (up to `limit`, default 100), with their values decoded. Rejects when Redis fails. */
  async deadLetters(limit = 100): Promise<DeadLetterEntry<T>[]> {
    const serializer = this.#d.settings.serializer
    const letters = await this.#d.queue.deadLetters(limit)
    return letters.map((letter) => {
      let value: T | undefined
      try {
        if (letter.serializer === serializer.id) value = serializer.deserialize(letter.bytes) as T
      } catch {
        value = undefined
      }
      return { id: letter.id, key: letter.key, value, seq: letter.seq, at: letter.at, deadAt: letter.deadAt, attempts: letter.attempts, error: letter.error }
    })
  }

  /**
   * Puts dead letters back in the queue with their sequence numbers (all of them without `ids`):
   * flushed like new writes, and a newer write of the same key still wins. Resolves to how many.
   */
  retryDeadLetters(ids?: readonly string[]): Promise<number> {
    return this.#d.queue.retryDead(ids)
  }

  /** Deletes dead letters (all of them without `ids`). Resolves to how many. */
  dropDeadLetters(ids?: readonly string[]): Promise<number> {
    return this.#d.queue.dropDead(ids)
  }

  async #write(key: string, entry: CacheEntry): Promise<WriteAck> {
    const queued = await this.#enqueue(key, entry)
    this.#written++
    // Read-your-writes: the cache shows the value at once. Versioned by the sequence number, so the
    // newest write wins whatever order the updates reach Redis in.
    await this.#show(key, { ...entry, version: queued.seq })
    return { key, seq: queued.seq }
  }

  /** Appends to the queue, waiting for room (`whenFull: 'wait'`) up to `maxWait`. */
  async #enqueue(key: string, entry: CacheEntry): Promise<{ id: string; seq: number }> {
    const { clock, serializer } = this.#d.settings
    const started = clock.now()
    let pause = 5
    let waited = false
    for (;;) {
      const result = await this.#send(key, { key, at: clock.now(), serializer: serializer.id, bytes: entry.bytes as Buffer })
      if (result.status === 'queued') return result
      const waitedFor = clock.now() - started
      if (this.#o.whenFull === 'throw' || waitedFor >= this.#o.maxWait || this.#closing) {
        this.#refused++
        throw new WriteBehindError('E_BACKPRESSURE', this.#o.whenFull === 'throw'
          ? `write-behind queue "${this.name}" holds ${result.pending} writes (maxPending ${this.#o.maxPending}): write of key "${key}" refused`
          : `write-behind queue "${this.name}" stayed at maxPending (${this.#o.maxPending}) for ${waitedFor}ms: write of key "${key}" refused`,
        { key, queue: this.name, pending: result.pending, maxPending: this.#o.maxPending })
      }
      if (!waited) this.#waited++
      waited = true
      pause = Math.min(pause * 2, 250)
      await this.#pause(Math.min(pause, Math.max(1, this.#o.maxWait - waitedFor)))
    }
  }

  /**
   * Queues one write with the others of this tick, in one round trip (one script call appends them
   * all). Failures become `E_WRITE_NOT_DURABLE`, saying whether the write may have been queued.
   */
  async #send(key: string, write: NewWrite): Promise<EnqueueResult> {
    if (this.#sends === undefined) {
      const batch: SendBatch = { writes: [], done: undefined as unknown as Promise<EnqueueResult[]> }
      batch.done = new Promise<EnqueueResult[]>((resolve, reject) => {
        process.nextTick(() => {
          this.#sends = undefined
          // From a microtask: the store corks its socket until the next tick, which must come after
          // the commands are issued (a tick callback scheduled from here would run before them).
          queueMicrotask(() => { this.#sendBatch(batch.writes).then(resolve, reject) })
        })
      })
      this.#sends = batch
    }
    const batch = this.#sends
    const index = batch.writes.push(write) - 1
    try {
      return (await batch.done)[index] as EnqueueResult
    } catch (error) {
      const failure = error as SendFailure
      throw new WriteBehindError('E_WRITE_NOT_DURABLE', `write of key "${key}" to write-behind queue "${this.name}" ${failure.message}`,
        { key, queue: this.name, outcome: failure.outcome }, failure.cause)
    }
  }

  /** One enqueue call for a tick's writes, bounded by `timeout`; rejects with a {@link SendFailure}. */
  async #sendBatch(writes: readonly NewWrite[]): Promise<EnqueueResult[]> {
    const { clock } = this.#d.settings
    const guard = this.#guard
    let timer: unknown
    const timeout = new Promise<'timeout'>((resolve) => { timer = clock.setTimeout(() => resolve('timeout'), this.#o.timeout) })
    try {
      const results = await Promise.race([this.#d.queue.enqueue(writes, this.#o.maxPending), timeout])
      if (results === 'timeout') {
        guard.reportFailure(new Error(`no answer within ${this.#o.timeout}ms`))
        throw new SendFailure(`got no answer from Redis within ${this.#o.timeout}ms; it may or may not have been queued`, 'unknown')
      }
      guard.reportSuccess()
      return results
    } catch (error) {
      if (error instanceof SendFailure) throw error
      // Not sent at all (the connection is known down), or refused by Redis: certainly not queued.
      const rejected = this.#d.isRejection?.(error) === true
      const notSent = isTierCacheError(error, 'E_L2_UNAVAILABLE')
      if (rejected) guard.reportSuccess()
      else guard.reportFailure(error)
      throw new SendFailure(`failed: ${(error as Error).message}`, rejected || notSent ? 'not-queued' : 'unknown', error)
    } finally {
      clock.clearTimeout(timer)
    }
  }

  /** Writes the cache copies of this tick's acknowledged writes together. */
  #show(key: string, entry: CacheEntry): Promise<void> {
    if (this.#shows === undefined) {
      const entries: [string, CacheEntry][] = []
      const done = new Promise<void>((resolve) => {
        process.nextTick(() => {
          this.#shows = undefined
          queueMicrotask(() => { void this.#d.writer.setBuilt(newestPerKey(entries)).then(resolve, resolve) })
        })
      })
      this.#shows = { entries, done }
    }
    this.#shows.entries.push([key, entry])
    return this.#shows.done
  }

  /**
   * After a flush, the cache holds the flushed values unless it has newer ones: a writer that died
   * between queueing and updating the cache, or a dead letter put back, would otherwise leave the
   * cache behind the database until the entry's TTL.
   */
  async #afterFlush(items: readonly FlushItem[]): Promise<void> {
    const entries: [string, CacheEntry][] = []
    for (const item of items) {
      try {
        entries.push([item.key, this.#d.builder.build(item.key, item.value, {
          ttl: this.#o.ttl, grace: this.#o.grace, tags: [], tagVersions: undefined, loadMs: 0, version: item.seq, maxLifetime: Number.POSITIVE_INFINITY,
        })])
      } catch {
        // It was cacheable when written; if not now (another maxValueBytes), the cache keeps what it has.
      }
    }
    await this.#d.writer.setBuilt(entries)
  }

  /** Writes that will never reach the database: their cached copies go (a newer value stays). */
  async #afterBury(key: string, seqs: readonly number[]): Promise<void> {
    const { shared, l1, coherence, writer } = this.#d
    const fence = shared?.fence
    if (shared === undefined || fence === undefined) {
      l1.drop(key)
      await writer.invalidate([key], [], undefined)
      return
    }
    const removed = await Promise.all(seqs.map((seq) => shared.call(() => fence.deleteIfVersion(key, seq), undefined)))
    if (removed.includes(undefined)) {
      l1.drop(key)
      await writer.invalidate([key], [], undefined)
      return
    }
    if (removed.includes(true)) {
      l1.drop(key)
      if (coherence.bus !== undefined) await coherence.publish({ keys: [key] })
    }
  }

  async #close(): Promise<void> {
    this.#closing = true
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
    if (this.#flusher !== undefined) await this.#flusher.stop()
    else await this.#d.queue.close()
    this.#guard.close()
    this.#d.onClose()
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.#d.settings.clock.setTimeout(resolve, ms))
  }

  #closedError(): WriteBehindError {
    return new WriteBehindError('E_WRITER_CLOSED', `write-behind writer "${this.name}" is closed`, { queue: this.name })
  }
}
