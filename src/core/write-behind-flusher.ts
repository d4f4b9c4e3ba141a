import type { Clock, TimerHandle } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { QueuedWrite, WriteQueue } from '../ports/write-queue.js'
import { LagWindow } from './lag-window.js'
import type { Serializer } from './serializer.js'
import type { TierGuard } from './tier-guard.js'
import type { ResolvedWriteBehind, WriteBehindItem } from './write-behind-options.js'

/** One key's writes in a batch: the newest one's value is flushed for all of them. */
export interface FlushItem {
  readonly key: string
  /** The newest write's sequence number, time and value. */
  seq: number
  at: number
  value: unknown
  /** Every queued write this item stands for (acknowledged together). */
  readonly writes: QueuedWrite[]
  /** Failed flushes of this item alone (see `#charge`). */
  attempts: number
  /** Number of the flush call in which it first failed alone. */
  firstFailure?: number
  /** Shown to fail while the database worked. */
  proven?: boolean
}

/** Counters of one flusher, for `stats()`. */
export class FlusherCounters {
  /** Queued writes removed from the queue after a successful flush (coalesced ones included). */
  flushed = 0
  /** Items handed to `flush` that it took (rows written, one per key per batch). */
  flushedItems = 0
  flushCalls = 0
  failedFlushes = 0
  deadLettered = 0
  claimed = 0
  /** Times the queue was found recreated empty (lost: Redis restarted without persistence). */
  queueLost = 0
  readonly lag = new LagWindow()
}

/** What the flusher needs from the writer that owns it. */
export interface FlusherDeps {
  readonly queue: WriteQueue
  /** Budget, breaker and one log line per outage for every queue call. */
  readonly guard: TierGuard
  readonly options: ResolvedWriteBehind
  readonly serializer: Serializer
  readonly clock: Clock
  readonly logger: Logger
  readonly consumer: string
  readonly counters: FlusherCounters
  /** After a flush: the cache gets the flushed values (unless it holds newer ones). */
  readonly onFlushed: (items: readonly FlushItem[]) => Promise<void>
  /** After writes went to the dead letters: their cached copies are withdrawn. */
  readonly onBuried: (key: string, seqs: readonly number[]) => Promise<void>
}

/** Outcome of one `flush` call. */
type CallResult = { readonly ok: true } | { readonly ok: false; readonly error: unknown; readonly call: number }

/**
 * The flushing side of a write-behind queue: one per writer that consumes. It takes batches from
 * the queue (gathering up to `batchSize` writes for at most `flushInterval`), coalesces them to the
 * newest write per key, calls `flush`, and acknowledges only after `flush` resolved. A process that
 * dies holding writes loses nothing: they stay in its pending list, and once its heartbeat expires
 * another flusher claims them.
 *
 * Failures: a poison write must not block the others, and a database outage must not send anything
 * to the dead letters, however long it lasts.
 * - A batch that fails right after a successful call is split in two and each half flushed; a half
 *   that fails while the other works holds a poison item and is split again at once, so the poison
 *   is isolated in log2(batch) calls while everything else goes through.
 * - A batch that fails right after a failed call (or whose halves both fail) waits, uncharged, with
 *   a back-off that grows while the failures go on: the database is probably down.
 * - An item that fails alone is charged one attempt and retried with back-off. It moves to the dead
 *   letters (its cached copy withdrawn) after `maxAttempts`, and only once some other flush has
 *   succeeded since its first failure (or the other half of its batch worked, or it had been in the
 *   dead letters already): proof that the database worked while it did not. A lone poison item in
 *   an otherwise idle queue therefore waits for one other write to go through.
 */
export class Flusher {
  readonly #d: FlusherDeps
  readonly #o: ResolvedWriteBehind
  #loop: Promise<void> | undefined
  #closing = false
  /** Whether the last flush call succeeded (or none was made yet). */
  #healthy = true
  /** Flush calls made, and the number of the last one that succeeded. */
  #calls = 0
  #lastSuccess = 0
  /** Consecutive flush calls judged "database down": they set the back-off. */
  #sinkFailures = 0
  #retries: { items: FlushItem[]; dueAt: number }[] = []
  /** Acknowledgements that failed (Redis): retried before anything else. */
  #unacked: FlushItem[][] = []
  /** Set by `hurry()`: flush what is there without waiting for `flushInterval`. */
  #hurry = false
  #current: AbortController | undefined
  #nextClaimAt = 0
  #heartbeat: TimerHandle = undefined
  #wake: (() => void) | undefined
  #queueDown = 0

  constructor(deps: FlusherDeps) {
    this.#d = deps
    this.#o = deps.options
  }

  /** Writes waiting for a retry in this process. */
  get retrying(): number {
    return this.#retries.reduce((n, r) => n + r.items.reduce((m, item) => m + item.writes.length, 0), 0)
  }

  /** Whether the last flush call succeeded. */
  get healthy(): boolean {
    return this.#healthy
  }

  start(): void {
    this.#beat()
    this.#loop = this.#run()
  }

  /** Flush what is queued now rather than after `flushInterval` (a `drain()` is waiting). */
  hurry(): void {
    this.#hurry = true
    this.#wake?.()
  }

  /**
   * Stops: no new batch is taken; a flush in flight is aborted (its writes stay pending and are
   * claimed by another flusher); this flusher's heartbeat is withdrawn so that happens at once.
   */
  async stop(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    if (this.#heartbeat !== undefined) this.#d.clock.clearTimeout(this.#heartbeat)
    this.#heartbeat = undefined
    this.#current?.abort(new Error('the write-behind writer is closing'))
    this.#wake?.()
    // Interrupts a blocked read.
    await this.#d.queue.close()
    await this.#loop
    await this.#d.guard.run(() => this.#d.queue.leave(this.#d.consumer), undefined)
  }

  async #run(): Promise<void> {
    while (!this.#closing) {
      try {
        await this.#step()
      } catch (error) {
        // Not a queue or flush failure (those are handled where they happen): a defect. Keep going.
        this.#d.logger.error({ queue: this.#d.queue.name, error: (error as Error).message }, 'write-behind flusher: unexpected error')
        await this.#sleep(this.#o.retryDelay)
      }
    }
  }

  async #step(): Promise<void> {
    const { queue, guard, clock, consumer, counters } = this.#d
    if (this.#unacked.length > 0 && !(await this.#retryAcks())) {
      await this.#sleep(this.#backoff(++this.#queueDown))
      return
    }
    const due = this.#takeDue(clock.now())
    if (due !== undefined) {
      await this.#attempt(due)
      return
    }
    if (clock.now() >= this.#nextClaimAt) {
      this.#nextClaimAt = clock.now() + this.#o.flusherTimeout / 2
      // Writes of a dead flusher have been idle at least this long: its heartbeat expired
      // `flusherTimeout` after its last beat, and it beat every third of that.
      const claimed = await guard.run(() => queue.claim(consumer, Math.floor(this.#o.flusherTimeout / 2), this.#o.batchSize), undefined)
      if (claimed !== undefined && claimed.length > 0) {
        counters.claimed += claimed.length
        await this.#process(claimed.map((c) => c.write), new Map(claimed.map((c) => [c.write.id, c.deliveries])))
        return
      }
    }
    const writes = await this.#gather()
    if (writes === undefined) {
      await this.#sleep(this.#backoff(++this.#queueDown))
      return
    }
    this.#queueDown = 0
    if (writes.length > 0) await this.#process(writes, undefined)
  }

  /** Gathers a batch: up to `batchSize` writes, waiting at most `flushInterval` after the first. Undefined when the queue failed. */
  async #gather(): Promise<QueuedWrite[] | undefined> {
    const { clock } = this.#d
    const maxBlock = Math.max(1, Math.floor(this.#o.timeout / 2))
    const nextDue = Math.min(this.#nextClaimAt, ...this.#retries.map((r) => r.dueAt))
    const idle = Math.max(1, Math.min(maxBlock, 1_000, nextDue - clock.now()))
    const first = await this.#read(this.#hurry ? 0 : idle, this.#o.batchSize)
    if (first === undefined) return undefined
    if (first.length === 0) {
      this.#hurry = false
      return []
    }
    const writes = [...first]
    const deadline = clock.now() + this.#o.flushInterval
    while (writes.length < this.#o.batchSize && !this.#hurry && !this.#closing) {
      const left = deadline - clock.now()
      if (left < 1) break
      const more = await this.#read(Math.min(Math.ceil(left), maxBlock), this.#o.batchSize - writes.length)
      if (more === undefined || more.length === 0) break
      writes.push(...more)
    }
    return writes
  }

  async #read(blockMs: number, count: number): Promise<readonly QueuedWrite[] | undefined> {
    const { queue, guard, consumer, counters, logger } = this.#d
    const result = await guard.run(() => queue.read(consumer, count, blockMs), undefined)
    if (result === undefined) return undefined
    if (result.recreated) {
      counters.queueLost++
      logger.error({ queue: queue.name },
        'write-behind queue was lost and recreated empty (Redis restarted without persistence, or its data was removed): writes acknowledged before and not yet flushed are gone; run Redis with appendonly yes to keep them')
    }
    return result.writes
  }

  /** Coalesces writes to the newest per key, buries what cannot be flushed at all, and flushes the rest. */
  async #process(writes: readonly QueuedWrite[], deliveries: Map<string, number> | undefined): Promise<void> {
    const byKey = new Map<string, QueuedWrite[]>()
    for (const write of writes) {
      if (write.malformed !== undefined) {
        await this.#bury([write], 0, write.malformed)
        continue
      }
      const times = deliveries?.get(write.id) ?? 1
      if (times > this.#o.maxAttempts + 1) {
        // Claimed again and again: every flusher that took it stopped while flushing it.
        await this.#bury([write], times - 1, `handed to flushers ${times} times without being flushed (each of them stopped while flushing it)`)
        continue
      }
      const list = byKey.get(write.key)
      if (list === undefined) byKey.set(write.key, [write])
      else list.push(write)
    }
    const items: FlushItem[] = []
    for (const [key, list] of byKey) {
      list.sort((a, b) => b.seq - a.seq)
      let item: FlushItem | undefined
      for (const write of list) {
        if (item === undefined) {
          const decoded = this.#decode(write)
          if (decoded.ok) item = { key, seq: write.seq, at: write.at, value: decoded.value, writes: [write], attempts: 0 }
          else await this.#bury([write], 0, decoded.error)
        } else {
          item.writes.push(write)
        }
      }
      if (item !== undefined) items.push(item)
    }
    if (items.length > 0) await this.#attempt(items)
  }

  #decode(write: QueuedWrite): { ok: true; value: unknown } | { ok: false; error: string } {
    const serializer = this.#d.serializer
    if (write.serializer !== serializer.id) {
      return { ok: false, error: `written with serializer ${write.serializer}, this cache uses ${serializer.id} (${serializer.name})` }
    }
    try {
      return { ok: true, value: serializer.deserialize(write.bytes) }
    } catch (error) {
      return { ok: false, error: `cannot decode the value: ${(error as Error).message}` }
    }
  }

  /** Flushes items; on failure tells a poison item from a database that is down (see the class comment). */
  async #attempt(items: FlushItem[]): Promise<void> {
    const healthyBefore = this.#healthy
    const result = await this.#call(items)
    if (result.ok) {
      await this.#ack(items)
      return
    }
    if (this.#closing) return
    if (items.length === 1) {
      await this.#charge(items[0] as FlushItem, result)
      return
    }
    if (!healthyBefore) {
      // The call before failed too: the database is probably down. Wait, uncharged, rather than
      // split the batch into calls that would all fail.
      this.#schedule(items, this.#backoff(++this.#sinkFailures))
      return
    }
    await this.#isolate(items)
  }

  /** `items` (two or more) just failed while the call before had worked: look for the poison by halves. */
  async #isolate(items: FlushItem[]): Promise<void> {
    if (this.#closing) return
    const middle = Math.ceil(items.length / 2)
    const halves = [items.slice(0, middle), items.slice(middle)] as const
    const results: CallResult[] = []
    for (const half of halves) {
      const result = await this.#call(half)
      if (result.ok) await this.#ack(half)
      results.push(result)
    }
    const bothFailed = results.every((r) => !r.ok)
    if (bothFailed) this.#sinkFailures++
    for (let i = 0; i < 2; i++) {
      const result = results[i] as CallResult
      const half = halves[i] as FlushItem[]
      if (result.ok) continue
      if (half.length === 1) await this.#charge(half[0] as FlushItem, result, !bothFailed)
      // The other half worked: the database is up, the poison is in here.
      else if (!bothFailed) await this.#isolate(half)
      // Nothing worked: the database may be down (or each half holds a poison item; a later retry,
      // once something else has worked, tells them apart).
      else this.#schedule(half, this.#backoff(this.#sinkFailures))
    }
  }

  /**
   * One failed flush of an item alone. Counted; after `maxAttempts` it goes to the dead letters, but
   * only once some other flush has succeeded since its first failure: proof that the database was
   * working while this item kept failing (an outage alone never buries anything).
   */
  async #charge(item: FlushItem, failure: { error: unknown; call: number }, siblingWorked = false): Promise<void> {
    if (this.#closing) return
    const error = failure.error
    item.attempts++
    item.firstFailure ??= failure.call
    // Proof: the other half of its batch just worked, some flush worked after its first failure,
    // or it already went to the dead letters once and was put back.
    item.proven = item.proven === true || siblingWorked || this.#lastSuccess > item.firstFailure || item.writes.some((w) => (w.buried ?? 0) > 0)
    if (item.attempts < this.#o.maxAttempts || !item.proven) {
      this.#schedule([item], this.#backoff(item.attempts))
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    if (await this.#bury(item.writes, item.attempts, message)) {
      await this.#d.onBuried(item.key, [...new Set(item.writes.map((w) => w.seq))])
    } else {
      // Redis did not take it: the next failure tries again.
      this.#schedule([item], this.#backoff(item.attempts))
    }
  }

  /** Calls `flush` with the batch, bounded by `flushTimeout`. */
  async #call(items: readonly FlushItem[]): Promise<CallResult> {
    const { clock, counters } = this.#d
    const flush = this.#o.flush
    if (flush === undefined) return { ok: false, error: new Error('no flush function'), call: this.#calls }
    // Closing: nothing more is flushed (what is pending stays in the queue for other flushers).
    if (this.#closing) return { ok: false, error: new Error('the write-behind writer is closing'), call: this.#calls }
    const controller = new AbortController()
    this.#current = controller
    const batch: WriteBehindItem[] = items.map((item) => Object.freeze({ key: item.key, value: item.value, seq: item.seq, at: item.at, writes: item.writes.length }))
    counters.flushCalls++
    const call = ++this.#calls
    let timer: TimerHandle
    // Settles at flushTimeout, or at once when the writer closes (stop() aborts the signal): a
    // hung flush must not hold close() up. Its writes stay pending and are claimed elsewhere.
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => {
        const error = new Error(`flush did not settle within ${this.#o.flushTimeout}ms`)
        controller.abort(error)
        reject(error)
      }, this.#o.flushTimeout)
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true })
    })
    timeout.catch(() => {})
    try {
      await Promise.race([Promise.resolve().then(() => flush(Object.freeze(batch), { signal: controller.signal })), timeout])
      this.#healthy = true
      this.#sinkFailures = 0
      this.#lastSuccess = call
      return { ok: true }
    } catch (error) {
      this.#healthy = false
      counters.failedFlushes++
      return { ok: false, error, call }
    } finally {
      clock.clearTimeout(timer)
      if (this.#current === controller) this.#current = undefined
    }
  }

  /** Records a successful flush and removes its writes from the queue (kept for a retry if Redis fails). */
  async #ack(items: FlushItem[]): Promise<void> {
    const { counters, clock } = this.#d
    const now = clock.now()
    for (const item of items) {
      counters.flushedItems++
      counters.flushed += item.writes.length
      for (const write of item.writes) counters.lag.record(Math.max(0, now - write.at))
    }
    if (!(await this.#sendAck(items))) this.#unacked.push(items)
    await this.#d.onFlushed(items)
  }

  #sendAck(items: readonly FlushItem[]): Promise<boolean> {
    const ids = items.flatMap((item) => item.writes.map((w) => w.id))
    return this.#d.guard.run(() => this.#d.queue.ack(ids).then(() => true), false)
  }

  async #retryAcks(): Promise<boolean> {
    while (this.#unacked.length > 0) {
      if (!(await this.#sendAck(this.#unacked[0] as FlushItem[]))) return false
      this.#unacked.shift()
    }
    return true
  }

  /** Moves writes to the dead letters. False when Redis did not take them. */
  async #bury(writes: readonly QueuedWrite[], attempts: number, error: string): Promise<boolean> {
    const { queue, guard, clock, counters, logger } = this.#d
    for (const write of writes) {
      if (!(await guard.run(() => queue.bury(write, attempts, error, clock.now()).then(() => true), false))) return false
      counters.deadLettered++
    }
    logger.warn({ queue: queue.name, key: writes[0]?.key, writes: writes.length, attempts, error }, 'write-behind: writes moved to the dead letters')
    return true
  }

  #schedule(items: FlushItem[], delayMs: number): void {
    if (items.length > 0) this.#retries.push({ items, dueAt: this.#d.clock.now() + delayMs })
  }

  #takeDue(now: number): FlushItem[] | undefined {
    let best = -1
    for (let i = 0; i < this.#retries.length; i++) {
      const r = this.#retries[i] as { dueAt: number }
      if (r.dueAt <= now && (best < 0 || r.dueAt < (this.#retries[best] as { dueAt: number }).dueAt)) best = i
    }
    if (best < 0) return undefined
    return (this.#retries.splice(best, 1)[0] as { items: FlushItem[] }).items
  }

  #backoff(failures: number): number {
    return Math.min(this.#o.retryDelay * 2 ** Math.min(failures - 1, 30), this.#o.maxRetryDelay)
  }

  /** Tells the other flushers this one is alive, every third of `flusherTimeout`. */
  #beat(): void {
    if (this.#closing) return
    const { queue, guard, clock, consumer } = this.#d
    void guard.run(() => queue.heartbeat(consumer, this.#o.flusherTimeout), undefined)
    this.#heartbeat = clock.setTimeout(() => this.#beat(), Math.max(1, Math.floor(this.#o.flusherTimeout / 3)))
  }

  /** Waits `ms`, or less when woken (`hurry`, `stop`). */
  #sleep(ms: number): Promise<void> {
    const clock = this.#d.clock
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clock.clearTimeout(timer)
        if (this.#wake === done) this.#wake = undefined
        resolve()
      }
      const timer = clock.setTimeout(done, ms)
      this.#wake = done
    })
  }
}
