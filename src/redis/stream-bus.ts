import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { Logger } from '../ports/logger.js'
import { silentLogger } from '../core/logger.js'
import type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage, PublishReceipt } from '../ports/bus.js'
import { BUS_FORMAT_VERSION, BUS_FORMAT_VERSION_KEY_PREFIXES } from '../ports/bus.js'
import type { RedisClient, RedisSource } from './connection.js'
import { DEFAULT_HANDSHAKE_MS, Readiness, connect, isCluster } from './connection.js'
import type { Connecting } from '../ports/connecting.js'
import { RedisKeys } from './keys.js'
import type { ScriptCommands } from './scripts.js'
import { withScripts } from './scripts.js'

/** Options of {@link RedisStreamBus}. */
export interface RedisStreamBusOptions extends RedisSource {
  /** Namespace: the bus of a namespace is one Redis Stream. */
  namespace: string
  /** Approximate number of messages the stream keeps (XADD MAXLEN ~). Default 100,000. */
  maxLength?: number
  /** How long one XREAD blocks; also the heartbeat of the follower. Default 1000 ms. */
  blockMs?: number
  /**
   * How long the follower's connection may go without an answer beyond its blocking read before
   * it is dropped and reopened (a hung connection never errors by itself). Default 1000 ms.
   * Publishing has no budget of its own: the cache's guard bounds it.
   */
  timeoutMs?: number
  /** How long a connection Redis accepted may take to answer its handshake. Default 1000 ms. */
  handshakeTimeout?: number
  /** How long a tag version outlives its last bump; tagged entries never live longer. Default 7 days. */
  tagTtlMs?: number
  logger?: Logger
}

/**
 * The wire format of one stream entry, version 1: fields `v` = `1`, `m` = the message as JSON
 * (without `id` and `tagVersions`), `tv` = the new tag versions, comma-separated, in `m.tags` order.
 * Version 2 is the same with `keyPrefixes` in `m`, and is written only for messages that carry them.
 * test/integration/stream-bus.test.ts pins it.
 */
type StreamEntry = [id: string, fields: string[]]

/**
 * The invalidation bus on a Redis Stream. Every follower reads the stream from its own cursor with
 * a blocking XREAD on a dedicated connection, so a dropped connection loses nothing: the follower
 * reconnects and continues from its cursor. It reports a gap (and the cache flushes L1) only when
 * it cannot prove it saw everything:
 * - the stream's epoch key changed or vanished (Redis restarted without persistence, or a failover
 *   lost the key): nothing said before that can be trusted;
 * - the stream was trimmed past the cursor (`max-deleted-entry-id` > cursor): this follower lagged
 *   more than `maxLength` messages;
 * - the stream's last id is behind the cursor (a replica without the latest writes took over).
 * The trim check runs after every non-empty read, so entries trimmed before XREAD could return
 * them are never skipped silently.
 */
export class RedisStreamBus implements InvalidationBus, Connecting {
  readonly name = 'redis-stream'
  readonly keys: RedisKeys
  readonly #client: RedisClient & ScriptCommands
  readonly #owned: boolean
  readonly #maxLength: number
  readonly #blockMs: number
  readonly #timeoutMs: number
  readonly #tagTtlMs: number
  readonly #handshakeMs: number
  readonly #logger: Logger
  readonly #listeners = new Set<BusListener>()
  readonly #readiness: Readiness
  #reader: RedisClient | undefined
  #loop: Promise<void> | undefined
  #closed = false
  #cursor: string | undefined
  #epoch: string | undefined
  #connected = false
  #everConnected = false
  readonly #firstSync: Promise<boolean>
  #settleFirstSync: ((ok: boolean) => void) | undefined
  /** How many entries of the stream, counted from its creation, this follower has consumed. */
  #consumed = 0
  /** The earliest read still to be checked for trimming, and whether a check is running. */
  #trimCheck: { consumed: number; cursor: string | undefined } | undefined
  #trimChecking = false

  constructor(options: RedisStreamBusOptions) {
    const { client, owned } = connect(options)
    this.#client = withScripts(client)
    this.#owned = owned
    this.keys = new RedisKeys(options.namespace)
    this.#maxLength = options.maxLength ?? 100_000
    this.#blockMs = options.blockMs ?? 1_000
    this.#timeoutMs = options.timeoutMs ?? 1_000
    this.#tagTtlMs = options.tagTtlMs ?? 7 * 86_400_000
    this.#handshakeMs = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_MS
    this.#logger = options.logger ?? silentLogger
    this.#readiness = Readiness.of(client, options.handshakeTimeout)
    this.#firstSync = new Promise<boolean>((resolve) => { this.#settleFirstSync = resolve })
    // The first sync cannot happen while the connection is down: say so as soon as that is known.
    void this.#readiness.whenConnected().then((ok) => { if (!ok) this.#settleFirst(false) })
  }

  /**
   * Settles once the follower's first sync with the stream is over (true: its cursor is placed and
   * every message published from now on will reach it), or the connection is known down (false).
   */
  whenConnected(): Promise<boolean> {
    return this.#firstSync
  }

  /**
   * Appends a message; with tags, bumps their versions in the same atomic step. Fails at once when
   * the connection is down (the cache's outbox retries it).
   */
  async publish(message: InvalidationMessage): Promise<PublishReceipt> {
    await this.#readiness.check()
    const tags = message.tags ?? []
    const body: Record<string, unknown> = { ...message }
    delete body.tagVersions
    const reply = await this.#client.tcPublish(
      2 + tags.length, this.keys.bus, this.keys.epoch, ...tags.map((t) => this.keys.tag(t)),
      this.#maxLength, JSON.stringify(body), this.#tagTtlMs, newEpoch(),
      message.keyPrefixes === undefined ? BUS_FORMAT_VERSION : BUS_FORMAT_VERSION_KEY_PREFIXES)
    const [id, ...versions] = reply
    return { id: id as string, tagVersions: tags.length > 0 ? versions.map(Number) : undefined }
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener)
    if (this.#connected) listener.onState?.('connected')
    if (this.#loop === undefined && !this.#closed) this.#loop = this.#follow()
    return () => { this.#listeners.delete(listener) }
  }

  /** Resolves once the follower has synced with the stream; rejects after `timeoutMs` (for tests and orderly start-up). */
  async ready(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.#connected) {
      if (Date.now() > deadline) throw new Error(`the invalidation bus did not connect within ${timeoutMs}ms${this.#readiness.cause === '' ? '' : `: ${this.#readiness.cause}`}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  get connected(): boolean {
    return this.#connected
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#settleFirst(false)
    this.#reader?.disconnect()
    await this.#loop?.catch(() => {})
    this.#listeners.clear()
    if (this.#owned) this.#client.disconnect()
  }

  async #follow(): Promise<void> {
    let backoff = 50
    while (!this.#closed) {
      try {
        const reader = this.#reader ??= this.#openReader()
        await readerReady(reader, this.#handshakeMs)
        if (!this.#connected) {
          await this.#resync(reader)
          this.#setConnected(true)
          backoff = 50
        }
        const consumedBefore = this.#consumed
        const reply = await (reader as Redis).xread('COUNT', 1000, 'BLOCK', this.#blockMs, 'STREAMS', this.keys.bus, this.#cursor ?? '$')
        if (this.#closed) return
        const entries: StreamEntry[] = reply?.[0]?.[1] ?? []
        // XREAD silently skips entries trimmed away before it ran: after every non-empty read,
        // check that nothing past what we had consumed was trimmed (only a follower lagging about
        // maxLength behind can see this). The check runs beside the next XREAD, not before it: it
        // costs a round trip, and a gap found a moment later flushes all the same.
        if (entries.length > 0) this.#scheduleTrimCheck(consumedBefore, this.#cursor)
        for (const [id, fields] of entries) {
          this.#cursor = id
          this.#consumed++
          const message = decodeMessage(id, fields)
          // An entry this build cannot read may be an invalidation: treat it as lost, not as noise.
          if (message === undefined) this.#reportGap(`message ${id} has an unknown format`)
          else this.#deliver(message)
        }
      } catch (error) {
        if (this.#closed) return
        if (this.#connected) {
          this.#logger.warn({ error: describeLoss(error) }, 'invalidation bus disconnected; L1 is fenced until it catches up')
          this.#setConnected(false)
        }
        if (this.#readiness.cause !== '' && !this.#everConnected) this.#settleFirst(false)
        // A hung connection never errors by itself (commandTimeout makes it): drop it so a fresh one is opened.
        this.#reader?.disconnect()
        this.#reader = undefined
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(backoff * 2, 2_000)
      }
    }
  }

  /**
   * Checks that nothing was lost since the cursor; reports a gap otherwise. Runs on the follower's
   * own connection, whose command timeout catches a server that stopped answering.
   */
  async #resync(reader: RedisClient): Promise<void> {
    await reader.set(this.keys.epoch, newEpoch(), 'NX')
    const epoch = await reader.get(this.keys.epoch)
    const info = await this.#streamInfo(reader)
    const last = info?.lastId ?? '0-0'
    if (this.#epoch === undefined || this.#cursor === undefined) {
      // First sync: start at the end. Nothing cached yet, so nothing can be stale.
      this.#epoch = epoch ?? undefined
      this.#cursor = last
      this.#consumed = info?.entriesAdded ?? 0
      return
    }
    let gap: string | undefined
    if (epoch !== this.#epoch) gap = 'the stream epoch changed (Redis restarted or lost data)'
    else if (info === undefined) gap = this.#consumed > 0 ? 'the stream vanished' : undefined
    else if (compareIds(last, this.#cursor) < 0 || info.entriesAdded < this.#consumed) gap = 'the stream is behind this follower (failover lost writes)'
    else if (lostPast(info, this.#consumed, this.#cursor)) gap = 'the stream was trimmed past this follower'
    this.#epoch = epoch ?? undefined
    if (gap !== undefined) {
      this.#cursor = last
      this.#consumed = info?.entriesAdded ?? 0
      this.#reportGap(gap)
    }
  }

  #scheduleTrimCheck(consumed: number, cursor: string | undefined): void {
    if (this.#trimCheck === undefined || consumed < this.#trimCheck.consumed) this.#trimCheck = { consumed, cursor }
    if (!this.#trimChecking) void this.#runTrimChecks()
  }

  async #runTrimChecks(): Promise<void> {
    this.#trimChecking = true
    try {
      while (this.#trimCheck !== undefined && !this.#closed) {
        const { consumed, cursor } = this.#trimCheck
        this.#trimCheck = undefined
        const reader = this.#reader
        if (reader === undefined) return
        const info = await this.#streamInfo(reader)
        if (info !== undefined && lostPast(info, consumed, cursor)) this.#reportGap('the stream was trimmed past this follower')
      }
    } catch {
      // A failed check leaves it to the follower loop, which resyncs on any connection trouble.
    } finally {
      this.#trimChecking = false
    }
  }

  #streamInfo(reader: RedisClient): Promise<StreamInfo | undefined> {
    return readStreamInfo(reader, this.keys.bus)
  }

  #reportGap(reason: string): void {
    this.#logger.warn({ reason }, 'invalidation bus gap: flushing L1')
    for (const listener of this.#listeners) {
      try {
        listener.onGap(reason)
      } catch {
        // A faulty subscriber must not stop the others from flushing.
      }
    }
  }

  #deliver(message: DeliveredMessage): void {
    for (const listener of this.#listeners) {
      try {
        listener.onMessage(message)
      } catch {
        // One faulty subscriber must not stop delivery to the others.
      }
    }
  }

  #settleFirst(ok: boolean): void {
    this.#settleFirstSync?.(ok)
    this.#settleFirstSync = undefined
  }

  #setConnected(connected: boolean): void {
    this.#connected = connected
    if (connected) {
      this.#everConnected = true
      this.#settleFirst(true)
    }
    for (const listener of this.#listeners) listener.onState?.(connected ? 'connected' : 'disconnected')
  }

  #openReader(): RedisClient {
    // A blocking XREAD holds its connection: the follower gets its own, never the shared one. Its
    // command timeout turns a hung server into an error (then a fresh connection).
    const commandTimeout = this.#blockMs + this.#timeoutMs
    const reader = isCluster(this.#client)
      ? (this.#client as Cluster).duplicate(undefined, { redisOptions: { ...(this.#client as Cluster).options.redisOptions, commandTimeout } })
      : (this.#client as Redis).duplicate({ commandTimeout })
    reader.on('error', () => {})
    return reader
  }

}

/** What XINFO STREAM says about a stream (the fields a follower checks its cursor against). */
export interface StreamInfo {
  readonly lastId: string
  readonly maxDeletedId: string
  /** Entries ever appended (Redis >= 7). */
  readonly entriesAdded: number
  readonly length: number
}

/**
 * True when entries this follower had not consumed are gone: `entriesAdded - length` entries left
 * the stream (trimmed from its head); if that is more than we consumed, some were never read.
 * `max-deleted-entry-id` covers XDEL, which does not count as trimming.
 */
export function lostPast(info: StreamInfo, consumed: number, cursor: string | undefined): boolean {
  return info.entriesAdded - info.length > consumed || (cursor !== undefined && compareIds(info.maxDeletedId, cursor) > 0)
}

/** XINFO STREAM of `key`; undefined when the stream does not exist. */
export async function readStreamInfo(reader: RedisClient, key: string): Promise<StreamInfo | undefined> {
  try {
    const raw = await (reader.call('XINFO', 'STREAM', key) as Promise<unknown[]>)
    const fields = new Map<string, unknown>()
    for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1])
    const id = (name: string): string => {
      const value = fields.get(name)
      return typeof value === 'string' ? value : '0-0'
    }
    const count = (name: string): number => {
      const value = fields.get(name)
      return typeof value === 'number' ? value : Number(value ?? 0)
    }
    return { lastId: id('last-generated-id'), maxDeletedId: id('max-deleted-entry-id'), entriesAdded: count('entries-added'), length: count('length') }
  } catch (error) {
    if (/no such key/i.test((error as Error).message)) return undefined
    throw error
  }
}

/**
 * A new epoch id, used if no epoch exists (SET NX: the first writer after a loss wins). It must
 * differ from every earlier one, or a node that re-creates the epoch after a restart would make the
 * loss invisible; a random process prefix and a counter do that without crypto per publish.
 */
const EPOCH_PREFIX = randomBytes(6).toString('hex')
let epochCounter = 0
function newEpoch(): string {
  return `${EPOCH_PREFIX}${(epochCounter++).toString(16).padStart(4, '0')}`
}

/** Compares two stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-')
  const [bm, bs] = b.split('-')
  const ms = BigInt(am ?? '0') - BigInt(bm ?? '0')
  if (ms !== 0n) return ms < 0n ? -1 : 1
  const seq = BigInt(as ?? '0') - BigInt(bs ?? '0')
  return seq === 0n ? 0 : seq < 0n ? -1 : 1
}

/** Decodes one stream entry; undefined for an unknown format version or unreadable body. */
export function decodeMessage(id: string, fields: string[]): DeliveredMessage | undefined {
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string)
  const version = map.get('v')
  if (version !== String(BUS_FORMAT_VERSION) && version !== String(BUS_FORMAT_VERSION_KEY_PREFIXES)) return undefined
  try {
    const body = JSON.parse(map.get('m') ?? '{}') as InvalidationMessage
    const tv = map.get('tv')
    const tagVersions = tv === undefined || tv === '' ? undefined : tv.split(',').map(Number)
    return { ...body, ...(tagVersions === undefined ? {} : { tagVersions }), id }
  } catch {
    return undefined
  }
}

/**
 * Resolves when `client` is ready to take commands; rejects if it fails first. A fresh connection
 * with the offline queue off refuses commands until then ("Stream isn't writeable").
 */
export function readerReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
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

/**
 * The cause of a lost follower connection, in words: ioredis reports a command cut off by a
 * dropped connection as "Reached the max retries per request limit", which names a setting, not
 * what happened.
 */
function describeLoss(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return /max retries per request/i.test(message) ? 'the connection closed while the follower was reading' : message
}
