import type { ClaimedWrite, DeadLetter, EnqueueResult, NewWrite, QueuedWrite, ReadResult, WriteQueue } from '../ports/write-queue.js'
import type { RedisClient } from './connection.js'
import { Readiness, isCluster } from './connection.js'
import type { QueueKeys } from './keys.js'
import { RedisKeys } from './keys.js'
import type { ScriptCommands } from './scripts.js'
import { withScripts } from './scripts.js'
import { WriteCoalescer } from './write-coalescer.js'
import { decodeDead, decodeQueued } from './write-queue-entry.js'

/** Most writes appended by one script call. */
const ENQUEUE_CHUNK = 500

/** The consumer group every flusher of a queue joins. */
export const FLUSHER_GROUP = 'flushers'

/** Options of {@link RedisWriteQueue}. */
export interface RedisWriteQueueOptions {
  /** The connection to use (the cache's L2 connection); blocking reads get a connection of their own. */
  readonly client: RedisClient
  readonly namespace: string
  readonly name: string
  /** How long a blocked read may go unanswered beyond its block time before its connection is dropped. Default 2000 ms. */
  readonly timeoutMs?: number
}

/**
 * The write-behind queue on a Redis Stream (see ports/write-queue.ts for the contract and
 * write-queue-entry.ts for the entry format). Flushers are a consumer group: XREADGROUP hands each
 * write to one of them, it stays in that flusher's pending list until acknowledged (XACK + XDEL in
 * one script, so the stream's length is exactly what is pending) or buried in the dead letters, and
 * the writes of a flusher whose heartbeat key expired are taken over with XCLAIM.
 *
 * Durability is Redis's: an enqueue resolves once Redis has the entry in memory. Without
 * persistence a Redis restart loses the queue (a flusher then finds its group gone, recreates it and
 * reports it); with `appendonly yes` the entry is in the AOF before the reply is sent
 * (`appendfsync always`: on disk; `everysec`: in the OS page cache, so a Redis crash loses nothing
 * and a machine crash about a second).
 *
 * Every call rejects when Redis fails: the core decides what a failure means (a write rejects; a
 * flusher backs off and retries).
 */
export class RedisWriteQueue implements WriteQueue {
  readonly name: string
  readonly keys: QueueKeys
  readonly #client: RedisClient & ScriptCommands
  readonly #readiness: Readiness
  readonly #coalescer: WriteCoalescer
  readonly #timeoutMs: number
  #reader: RedisClient | undefined
  #groupKnown = false
  /** This process has seen the group exist. */
  #seen = false
  /** The group had to be recreated after this process had seen it: the next read reports a lost queue. */
  #lost = false
  #closed = false

  constructor(options: RedisWriteQueueOptions) {
    this.name = options.name
    this.keys = new RedisKeys(options.namespace).queue(options.name)
    this.#client = withScripts(options.client)
    this.#readiness = Readiness.of(options.client)
    this.#coalescer = new WriteCoalescer(options.client)
    this.#timeoutMs = options.timeoutMs ?? 2_000
  }

  async enqueue(writes: readonly NewWrite[], maxPending: number): Promise<EnqueueResult[]> {
    await this.#begin()
    // At most ENQUEUE_CHUNK writes per script call (one call must not hold Redis for long), all
    // calls sent at once: they run in order on the connection, so sequence numbers keep it.
    const calls: Promise<(string | number)[]>[] = []
    for (let i = 0; i < writes.length; i += ENQUEUE_CHUNK) {
      const args: (string | number | Buffer)[] = []
      for (const w of writes.slice(i, i + ENQUEUE_CHUNK)) args.push(w.key, w.at, w.serializer, w.bytes)
      calls.push(this.#client.tcQueueEnqueue(this.keys.stream, this.keys.seq, maxPending, ...args))
    }
    const results: EnqueueResult[] = []
    for (const reply of await Promise.all(calls)) {
      for (let j = 0; j + 2 < reply.length; j += 3) {
        results.push(Number(reply[j]) === 0
          ? { status: 'full', pending: Number(reply[j + 1]) }
          : { status: 'queued', id: String(reply[j + 1]), seq: Number(reply[j + 2]) })
      }
    }
    return results
  }

  async read(consumer: string, count: number, blockMs: number): Promise<ReadResult> {
    await this.#begin()
    await this.#ensureGroup()
    const args: (string | number)[] = ['GROUP', FLUSHER_GROUP, consumer, 'COUNT', count]
    if (blockMs > 0) args.push('BLOCK', blockMs)
    args.push('STREAMS', this.keys.stream, '>')
    // A blocking read holds its connection: it gets one of its own, never the shared one.
    const connection = blockMs > 0 ? await this.#blockingReader() : this.#client
    let reply: unknown
    try {
      reply = await connection.callBuffer('XREADGROUP', ...args)
    } catch (error) {
      if (!isMissingGroup(error)) throw error
      // The stream and its group vanished (Redis restarted without persistence, or was flushed):
      // recreated now, read again next time.
      this.#groupKnown = false
      await this.#ensureGroup()
      reply = null
    }
    const streams = reply as [Buffer, [Buffer, Buffer[]][]][] | null
    const entries = streams?.[0]?.[1] ?? []
    const recreated = this.#lost
    this.#lost = false
    return { writes: entries.map(([id, fields]) => decodeQueued(id.toString(), fields)), recreated }
  }

  async ack(ids: readonly string[]): Promise<void> {
    await this.#begin()
    for (let i = 0; i < ids.length; i += 1_000) {
      await this.#client.tcQueueAck(this.keys.stream, FLUSHER_GROUP, ...ids.slice(i, i + 1_000))
    }
  }

  async bury(write: QueuedWrite, attempts: number, error: string, at: number): Promise<void> {
    await this.#begin()
    await this.#client.tcQueueBury(this.keys.stream, this.keys.dead, FLUSHER_GROUP, write.id, write.key, String(write.seq), write.at,
      write.serializer, write.bytes, attempts, error.slice(0, 1_000), at)
  }

  async heartbeat(consumer: string, ttlMs: number): Promise<void> {
    await this.#begin()
    await this.#client.set(this.keys.heartbeatPrefix + consumer, '1', 'PX', ttlMs)
  }

  async claim(consumer: string, minIdleMs: number, count: number): Promise<ClaimedWrite[]> {
    await this.#begin()
    await this.#ensureGroup()
    let consumers: Map<string, unknown>[]
    try {
      consumers = parseRecords(await this.#client.call('XINFO', 'CONSUMERS', this.keys.stream, FLUSHER_GROUP))
    } catch (error) {
      if (!isMissingGroup(error)) throw error
      this.#groupKnown = false
      return []
    }
    const claimed: ClaimedWrite[] = []
    for (const info of consumers) {
      const name = String(info.get('name'))
      if (name === consumer || claimed.length >= count) continue
      if ((await this.#client.exists(this.keys.heartbeatPrefix + name)) === 1) continue
      if (Number(info.get('pending')) === 0) {
        await this.#client.call('XGROUP', 'DELCONSUMER', this.keys.stream, FLUSHER_GROUP, name)
        continue
      }
      const pending = await this.#client.call('XPENDING', this.keys.stream, FLUSHER_GROUP, 'IDLE', minIdleMs, '-', '+',
        count - claimed.length, name) as [string, string, number, number][]
      if (pending.length === 0) continue
      const deliveries = new Map(pending.map(([id, , , times]) => [id, Number(times) + 1]))
      // XCLAIM with the same minimum idle time: of two flushers claiming at once, the second finds
      // the writes idle for 0 ms and leaves them to the first.
      const reply = await this.#client.callBuffer('XCLAIM', this.keys.stream, FLUSHER_GROUP, consumer, minIdleMs,
        ...pending.map(([id]) => id)) as ([Buffer, Buffer[]] | null)[]
      for (const item of reply) {
        if (item === null) continue
        const id = item[0].toString()
        claimed.push({ write: decodeQueued(id, item[1]), deliveries: deliveries.get(id) ?? 1 })
      }
    }
    return claimed
  }

  async leave(consumer: string): Promise<void> {
    await this.#begin()
    await this.#client.del(this.keys.heartbeatPrefix + consumer)
  }

  async pending(): Promise<number> {
    await this.#begin()
    return this.#client.xlen(this.keys.stream)
  }

  async tail(): Promise<string | undefined> {
    await this.#begin()
    const last = await this.#client.xrevrange(this.keys.stream, '+', '-', 'COUNT', 1)
    return last[0]?.[0]
  }

  async holdsUpTo(id: string): Promise<boolean> {
    await this.#begin()
    return (await this.#client.xrange(this.keys.stream, '-', id, 'COUNT', 1)).length > 0
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    await this.#begin()
    const entries = await this.#client.xrangeBuffer(this.keys.dead, '-', '+', 'COUNT', limit)
    return entries.map(([id, fields]) => decodeDead(id.toString(), fields))
  }

  async deadCount(): Promise<number> {
    await this.#begin()
    return this.#client.xlen(this.keys.dead)
  }

  async retryDead(ids: readonly string[] | undefined): Promise<number> {
    await this.#begin()
    return this.#eachDead(ids, (chunk) => this.#client.tcQueueRetryDead(this.keys.stream, this.keys.dead, ...chunk))
  }

  async dropDead(ids: readonly string[] | undefined): Promise<number> {
    await this.#begin()
    return this.#eachDead(ids, (chunk) => this.#client.xdel(this.keys.dead, ...chunk))
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#reader?.disconnect()
    this.#reader = undefined
    return Promise.resolve()
  }

  /**
   * Every command starts here: waits for the first connection, fails at once when known down, and
   * lets the writes of one tick leave in one socket write (write-coalescer.ts): hundreds of
   * concurrent enqueues cost one system call, not one each.
   */
  #begin(): Promise<void> | undefined {
    const waiting = this.#readiness.check()
    if (waiting === undefined) this.#coalescer.hold()
    return waiting
  }

  /** Applies `fn` to the given dead letters, or to all of them 500 at a time (one bounded command each). */
  async #eachDead(ids: readonly string[] | undefined, fn: (chunk: string[]) => Promise<number>): Promise<number> {
    let done = 0
    if (ids !== undefined) {
      for (let i = 0; i < ids.length; i += 500) done += await fn(ids.slice(i, i + 500))
      return done
    }
    for (;;) {
      const chunk = (await this.#client.xrange(this.keys.dead, '-', '+', 'COUNT', 500)).map(([id]) => id)
      if (chunk.length === 0) return done
      const n = await fn(chunk)
      done += n
      if (n === 0) return done
    }
  }

  /**
   * Creates the group unless known to exist, reading from the start of the stream: entries are
   * deleted once flushed, so whatever is there is pending. Creating it although this process had
   * seen it before means the queue was lost; the next read reports that.
   */
  async #ensureGroup(): Promise<void> {
    if (this.#groupKnown) return
    try {
      await this.#client.call('XGROUP', 'CREATE', this.keys.stream, FLUSHER_GROUP, '0', 'MKSTREAM')
      if (this.#seen) this.#lost = true
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error
    }
    this.#groupKnown = true
    this.#seen = true
  }

  async #blockingReader(): Promise<RedisClient> {
    if (this.#closed) throw new Error('the write-behind queue is closed')
    let reader = this.#reader
    if (reader === undefined) {
      const commandTimeout = this.#timeoutMs
      const client = this.#client as RedisClient
      reader = isCluster(client)
        ? client.duplicate(undefined, { redisOptions: { ...client.options.redisOptions, commandTimeout } })
        : client.duplicate({ commandTimeout })
      reader.on('error', () => {})
      this.#reader = reader
    }
    if (reader.status !== 'ready') {
      try {
        await untilReady(reader, this.#timeoutMs)
      } catch (error) {
        // A connection that failed to come up is dropped; the next read opens a fresh one.
        reader.disconnect()
        if (this.#reader === reader) this.#reader = undefined
        throw error
      }
    }
    return reader
  }
}

/** NOGROUP (the group is gone) or "no such key" (the stream is gone). */
function isMissingGroup(error: unknown): boolean {
  return /NOGROUP|no such key/i.test((error as Error).message)
}

/** `XINFO` replies: arrays of alternating field names and values, as maps. */
function parseRecords(reply: unknown): Map<string, unknown>[] {
  return (reply as unknown[][]).map((fields) => {
    const map = new Map<string, unknown>()
    for (let i = 0; i + 1 < fields.length; i += 2) map.set(String(fields[i]), fields[i + 1])
    return map
  })
}

/** Resolves once `client` is ready; rejects on an error, its end, or after `timeoutMs`. */
function untilReady(client: RedisClient, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`the connection did not become ready within ${timeoutMs}ms`)), timeoutMs)
    const done = (error?: Error): void => {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('error', onError)
      client.off('end', onEnd)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onReady = (): void => done()
    const onError = (error: Error): void => done(error)
    const onEnd = (): void => done(new Error('connection closed'))
    client.on('ready', onReady)
    client.on('error', onError)
    client.on('end', onEnd)
  })
}
