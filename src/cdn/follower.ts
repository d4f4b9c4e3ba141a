import type { Redis } from 'ioredis'
import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { DeliveredMessage } from '../ports/bus.js'
import { TokenBucket } from '../edge/token-bucket.js'
import type { RedisClient } from '../redis/connection.js'
import { RedisKeys } from '../redis/keys.js'
import { decodeMessage, lostPast, readStreamInfo, readerReady } from '../redis/stream-bus.js'
import { CdnPurgeError } from './errors.js'
import type { CdnMapping, PurgeWork } from './mapping.js'
import { planPurges, splitWork } from './mapping.js'
import type { CdnPurger, PurgeOutcome } from './purger.js'

/** How a failed purge is retried before it is dead-lettered. */
export interface RetryPolicy {
  /** Tries in all (first one included). */
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

/** One dead letter: a purge that was not applied, with why. `tiercache cdn-purger --dead-letters` prints them. */
export interface DeadLetter {
  readonly at: number
  readonly purger: string
  readonly kind: PurgeWork['kind']
  readonly soft: boolean
  readonly items: readonly string[]
  readonly reason: string
  readonly attempts: number
  /** Stream ids of the messages the purge came from (first and last of the batch). */
  readonly messages: readonly string[]
}

/** What a follower did, for `stats()` and metrics. */
export interface FollowerStats {
  readonly purger: string
  readonly provider: string
  /** Purge requests the CDN accepted. */
  readonly purged: number
  /** Requests sent again after a retryable failure. */
  readonly retries: number
  /** Purges dead-lettered since start (failed after every retry, or impossible on this CDN). */
  readonly deadLettered: number
  /** Dead letters in this purger's list in Redis (read at connect, counted since). */
  readonly deadLetters: number
  /** Messages read from the bus. */
  readonly messages: number
  /** Keys and key prefixes no rule maps to the CDN. */
  readonly ignored: number
  /** Gaps seen (the stream was trimmed past the cursor, or lost). */
  readonly gaps: number
  /** The stream id this follower has handled everything up to. */
  readonly cursor: string | undefined
  readonly connected: boolean
}

/** Events, for the command's log and for tests and benchmarks that wait on a purge. */
export type FollowerEvent =
  | { readonly type: 'purged'; readonly purger: string; readonly work: PurgeWork; readonly outcome: PurgeOutcome; readonly messages: readonly DeliveredMessage[] }
  | { readonly type: 'dead-letter'; readonly letter: DeadLetter }
  | { readonly type: 'gap'; readonly purger: string; readonly reason: string }
  | { readonly type: 'batch'; readonly purger: string; readonly cursor: string }

export interface FollowerOptions {
  readonly client: RedisClient
  readonly namespace: string
  /** The runner's name; the cursor and dead letters are kept per runner name and purger name. */
  readonly name: string
  readonly purger: CdnPurger
  readonly mapping: CdnMapping
  readonly retry: RetryPolicy
  readonly clock: Clock
  readonly logger: Logger
  readonly blockMs: number
  readonly readCount: number
  readonly onEvent?: ((event: FollowerEvent) => void) | undefined
}

/**
 * Follows the invalidation bus for one CDN, from a cursor of its own kept in Redis, so a restart
 * resumes where the last run stopped and a slow CDN never holds the others back. For each batch
 * read: plan the purges, split them by the CDN's batch limits, pace them by its rate, retry
 * retryable failures with exponential back-off, dead-letter what still fails or cannot be
 * expressed, and only then move the cursor (at least once: a crash between the purge and the
 * cursor write purges again, which is harmless).
 *
 * Gaps: if the stream lost entries this follower had not read (trimmed past its cursor, or the
 * stream's epoch changed: Redis lost data), it purges everything on a CDN that can, and on one that
 * cannot it logs an error and dead-letters the gap, since stale objects may stay until they expire.
 */
export class StreamFollower {
  readonly #o: FollowerOptions
  readonly #keys: RedisKeys
  readonly #store: { cursor: string; dead: string }
  readonly #bucket: TokenBucket
  #reader: RedisClient | undefined
  #loop: Promise<void> | undefined
  #stopped = false
  #wake: (() => void) | undefined
  #cursor: string | undefined
  #consumed = 0
  #epoch: string | undefined
  #connected = false
  #stats = { purged: 0, retries: 0, deadLettered: 0, deadLetters: 0, messages: 0, ignored: 0, gaps: 0 }

  constructor(options: FollowerOptions) {
    this.#o = options
    this.#keys = new RedisKeys(options.namespace)
    this.#store = this.#keys.cdnPurger(`${options.name}:${options.purger.name}`)
    this.#bucket = new TokenBucket(options.purger.limits.requestsPerSecond, Math.max(1, options.purger.limits.burst), options.clock)
  }

  get deadLetterKey(): string {
    return this.#store.dead
  }

  start(): void {
    this.#loop ??= this.#follow()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    this.#reader?.disconnect()
    await this.#loop?.catch(() => {})
  }

  stats(): FollowerStats {
    return { purger: this.#o.purger.name, provider: this.#o.purger.provider, ...this.#stats, cursor: this.#cursor, connected: this.#connected }
  }

  async #follow(): Promise<void> {
    let backoff = 100
    while (!this.#stopped) {
      try {
        const reader = this.#reader ??= this.#openReader()
        await readerReady(reader, 5_000)
        if (!this.#connected) {
          await this.#sync(reader)
          this.#connected = true
          backoff = 100
        }
        const reply = await (reader as Redis).xread('COUNT', this.#o.readCount, 'BLOCK', this.#o.blockMs, 'STREAMS', this.#keys.bus, this.#cursor ?? '$')
        if (this.#stopped) return
        const entries = (reply?.[0]?.[1] ?? []) as [string, string[]][]
        if (entries.length === 0) continue
        // XREAD skips entries trimmed away before it ran: check, before handling these, that
        // nothing past the cursor was lost.
        const info = await readStreamInfo(reader, this.#keys.bus)
        if (info !== undefined && lostPast(info, this.#consumed, this.#cursor)) await this.#gap(`the stream was trimmed past this purger's cursor ${this.#cursor ?? ''}`)
        await this.#handle(entries)
      } catch (error) {
        if (this.#stopped) return
        if (this.#connected) this.#o.logger.warn({ purger: this.#o.purger.name, error: (error as Error).message }, 'lost the invalidation bus; resuming from the saved cursor')
        this.#connected = false
        this.#reader?.disconnect()
        this.#reader = undefined
        await this.#sleep(backoff)
        backoff = Math.min(backoff * 2, 5_000)
      }
    }
  }

  /** Loads the saved cursor (or starts at the stream's end on a first run) and checks nothing was lost since. */
  async #sync(reader: RedisClient): Promise<void> {
    await reader.set(this.#keys.epoch, `cdn-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`, 'NX')
    const epoch = (await reader.get(this.#keys.epoch)) ?? undefined
    const saved = await reader.hgetall(this.#store.cursor)
    this.#stats.deadLetters = await reader.llen(this.#store.dead)
    const info = await readStreamInfo(reader, this.#keys.bus)
    if (saved.id === undefined) {
      // First run of this purger: purges start from now (nothing older is replayed).
      this.#cursor = info?.lastId ?? '0-0'
      this.#consumed = info?.entriesAdded ?? 0
      this.#epoch = epoch
      await this.#save(reader)
      return
    }
    this.#cursor = saved.id
    this.#consumed = Number(saved.consumed ?? 0)
    this.#epoch = saved.epoch
    let gap: string | undefined
    if (epoch !== this.#epoch) gap = 'the stream epoch changed (Redis restarted without its data or lost it)'
    else if (info === undefined) gap = this.#consumed > 0 ? 'the stream vanished' : undefined
    else if (lostPast(info, this.#consumed, this.#cursor)) gap = `the stream was trimmed past this purger's cursor ${this.#cursor}`
    if (gap !== undefined) {
      this.#cursor = info?.lastId ?? '0-0'
      this.#consumed = info?.entriesAdded ?? 0
      this.#epoch = epoch
      await this.#gap(gap)
      await this.#save(reader)
    }
  }

  async #handle(entries: [string, string[]][]): Promise<void> {
    const messages: DeliveredMessage[] = []
    for (const [id, fields] of entries) {
      const message = decodeMessage(id, fields)
      // A message this build cannot read may be an invalidation: treat it as lost.
      if (message === undefined) await this.#gap(`message ${id} has a format this version cannot read`)
      else messages.push(message)
    }
    this.#stats.messages += entries.length
    const plan = planPurges(messages, this.#o.mapping, this.#o.purger.capabilities)
    this.#stats.ignored += plan.ignored
    const ids = entries.length === 1 ? [entries[0]![0]] : [entries[0]![0], entries[entries.length - 1]![0]]
    for (const { work, reason } of plan.undeliverable) {
      this.#o.logger.error({ purger: this.#o.purger.name, kind: work.kind, items: work.items.slice(0, 10) }, `cannot purge: ${reason}; dead-lettered`)
      await this.#deadLetter(work, reason, 0, ids)
    }
    for (const work of plan.work) {
      for (const request of splitWork(work, this.#o.purger.limits.itemsPerRequest)) await this.#send(request, ids, messages)
    }
    this.#cursor = entries[entries.length - 1]![0]
    this.#consumed += entries.length
    await this.#save(this.#o.client)
    this.#o.onEvent?.({ type: 'batch', purger: this.#o.purger.name, cursor: this.#cursor })
  }

  /** Sends one request, paced and retried; dead-letters it when every try failed or the failure is final. */
  async #send(work: PurgeWork, ids: readonly string[], messages: readonly DeliveredMessage[]): Promise<void> {
    const { attempts, baseDelayMs, maxDelayMs } = this.#o.retry
    let lastError: unknown
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // Stopping mid-batch leaves the cursor where it was: the next run sends this purge again.
      if (this.#stopped) throw new Error('stopped')
      await this.#pace()
      try {
        const outcome = await this.#o.purger.purge(work)
        this.#stats.purged++
        this.#o.onEvent?.({ type: 'purged', purger: this.#o.purger.name, work, outcome, messages })
        return
      } catch (error) {
        lastError = error
        const retryable = error instanceof CdnPurgeError && error.retryable
        if (!retryable || attempt === attempts) break
        this.#stats.retries++
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
        // Jitter keeps several purgers that failed together from retrying together.
        const wait = Math.max(backoff * (0.75 + Math.random() * 0.5), error.retryAfterMs ?? 0)
        this.#o.logger.warn({ purger: this.#o.purger.name, attempt, waitMs: Math.round(wait), error: (error as Error).message }, 'purge failed; retrying')
        await this.#sleep(wait)
      }
    }
    const reason = lastError instanceof Error ? lastError.message : String(lastError)
    this.#o.logger.error({ purger: this.#o.purger.name, kind: work.kind, items: work.items.slice(0, 10) }, `purge failed: ${reason}; dead-lettered`)
    await this.#deadLetter(work, reason, attempts, ids)
  }

  async #gap(reason: string): Promise<void> {
    this.#stats.gaps++
    this.#o.onEvent?.({ type: 'gap', purger: this.#o.purger.name, reason })
    if (this.#o.purger.capabilities.kinds.includes('all')) {
      this.#o.logger.warn({ purger: this.#o.purger.name, reason }, 'invalidations may have been missed: purging everything on this CDN')
      await this.#send({ kind: 'all', soft: false, items: [] }, [], [])
      return
    }
    const why = `invalidations may have been missed (${reason}) and ${this.#o.purger.name} cannot purge everything: objects cached before the gap may be stale until they expire`
    this.#o.logger.error({ purger: this.#o.purger.name }, why)
    await this.#deadLetter({ kind: 'all', soft: false, items: [] }, why, 0, [])
  }

  async #deadLetter(work: PurgeWork, reason: string, attempts: number, messages: readonly string[]): Promise<void> {
    const letter: DeadLetter = { at: this.#o.clock.now(), purger: this.#o.purger.name, kind: work.kind, soft: work.soft, items: work.items, reason, attempts, messages }
    this.#stats.deadLettered++
    this.#o.onEvent?.({ type: 'dead-letter', letter })
    // Redis may be down too: keep trying (the cursor has not moved, so nothing is lost if we stop).
    for (let wait = 100; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        await this.#o.client.lpush(this.#store.dead, JSON.stringify(letter))
        this.#stats.deadLetters++
        return
      } catch (error) {
        if (this.#stopped) throw error
        await this.#sleep(wait)
      }
    }
  }

  async #pace(): Promise<void> {
    for (;;) {
      if (this.#stopped) throw new Error('stopped')
      if (this.#bucket.take()) return
      await this.#sleep(this.#bucket.waitMs())
    }
  }

  #save(client: RedisClient): Promise<unknown> {
    return client.hset(this.#store.cursor, 'id', this.#cursor ?? '0-0', 'consumed', String(this.#consumed), 'epoch', this.#epoch ?? '')
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#o.clock.setTimeout(() => { this.#wake = undefined; resolve() }, ms)
      this.#wake = () => { this.#o.clock.clearTimeout(handle); this.#wake = undefined; resolve() }
    })
  }

  #openReader(): RedisClient {
    // A blocking XREAD holds its connection: the follower gets its own.
    const reader = (this.#o.client as Redis).duplicate({ commandTimeout: this.#o.blockMs + 5_000 })
    reader.on('error', () => {})
    return reader
  }
}

/** Reads the newest `limit` dead letters of a follower's list. */
export async function readDeadLetters(client: RedisClient, key: string, limit: number): Promise<DeadLetter[]> {
  const raw = await client.lrange(key, 0, limit - 1)
  return raw.map((line) => JSON.parse(line) as DeadLetter)
}
