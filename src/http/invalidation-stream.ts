import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { systemClock } from '../core/clock.js'
import { InvalidOptionError } from '../core/errors.js'
import type { BusListener, DeliveredMessage, InvalidationBus } from '../ports/bus.js'
import type { Clock, TimerHandle } from '../ports/clock.js'

/** Version of the events' data (`{"v":1,...}`); the browser client ignores events of another version. */
export const EVENT_FORMAT_VERSION = 1

/** Options of {@link InvalidationStream}; defaults in {@link INVALIDATION_STREAM_DEFAULTS}. */
export interface InvalidationStreamOptions {
  /** The bus whose invalidations are streamed: every node's, this process's own included. */
  readonly bus: InvalidationBus
  /** Open streams at most; one more is answered 429. */
  readonly maxSubscribers?: number
  /** Tags one stream may subscribe to; more is answered 413. */
  readonly maxTagsPerSubscriber?: number
  /** A comment line this often keeps proxies from closing an idle stream, ms. */
  readonly heartbeatMs?: number
  /** Invalidations remembered for replay to a stream that reconnects with `Last-Event-ID`. */
  readonly historySize?: number
  /** A stream whose unsent output exceeds this is closed (the browser reconnects and replays), bytes. */
  readonly maxBufferedBytes?: number
  /** The path the stream is served at (tags may follow it: `<path>/a,b`). Default `/_tiercache/events`. */
  readonly path?: string
  readonly clock?: Clock
}

export const INVALIDATION_STREAM_DEFAULTS = {
  maxSubscribers: 1000,
  maxTagsPerSubscriber: 32,
  // Below the idle limits of what may sit in between: the tiercache edge drops an origin body silent
  // for 10 s (originBodyTimeout), nginx and Varnish after 60 s.
  heartbeatMs: 5_000,
  historySize: 1024,
  maxBufferedBytes: 64 * 1024,
  path: '/_tiercache/events',
} as const

/** The stable codes of the stream's refusals (the JSON body's `code`). */
export type StreamRefusalCode = 'E_EVENTS_METHOD' | 'E_EVENTS_NO_TAGS' | 'E_EVENTS_BAD_TAG' | 'E_EVENTS_TOO_MANY_TAGS' | 'E_EVENTS_TOO_MANY_SUBSCRIBERS' | 'E_EVENTS_CLOSED'

/** A tag on the wire: 1 to 200 visible ASCII characters, no comma (the list separator). The browser client checks the same (a unit test pins the two). */
const TAG = /^[\x21-\x2b\x2d-\x7e]{1,200}$/

/** True for a tag the event stream accepts. */
export function isStreamTag(tag: string): boolean {
  return TAG.test(tag)
}
const RETRY_MS = 2000

interface Subscriber {
  readonly res: ServerResponse
  readonly tags: ReadonlySet<string>
}

interface Remembered {
  readonly seq: number
  readonly tags: readonly string[]
  readonly version: number | undefined
  readonly at: number
}

/**
 * Invalidations, as Server-Sent Events, for open browser pages (`GET /_tiercache/events?tags=a,b`,
 * or `GET /_tiercache/events/a,b` through proxies that drop query strings):
 * each invalidation on the bus that names a subscribed tag is sent to that page as an `invalidate`
 * event carrying only the tags it subscribed to. The bus delivers every node's invalidations, this
 * process's own included, so change capture's, an `invalidate()` call's and a peer's all reach it.
 *
 * Bounded against hostile clients: at most `maxSubscribers` streams (429), `maxTagsPerSubscriber`
 * tags each (413), tags checked before anything is kept (400), and a stream that does not read
 * is closed once `maxBufferedBytes` wait for it. Each answer is `{ error, code, field, rule }`.
 *
 * Events carry ids (`<epoch>.<sequence>`). A browser that reconnects sends `Last-Event-ID`; the
 * stream replays what it missed from the last `historySize` invalidations, or sends a `resync`
 * event when it cannot (an id older than that, from a restarted server, or across a bus gap):
 * the page then drops everything it subscribed to. A bus gap or a `clear` sends `resync` to all.
 */
export class InvalidationStream {
  readonly #options: Required<Omit<InvalidationStreamOptions, 'bus' | 'clock'>>
  readonly #clock: Clock
  readonly #epoch = randomBytes(4).toString('hex')
  readonly #byTag = new Map<string, Set<Subscriber>>()
  readonly #subscribers = new Set<Subscriber>()
  readonly #history: Remembered[] = []
  #seq = 0
  /** Replays cannot cross this sequence number (a gap or a clear happened there). */
  #floor = 0
  #heartbeat: TimerHandle = undefined
  #closed = false
  readonly #unsubscribe: () => void
  readonly #counters = { sent: 0, resyncs: 0, refused: 0, slowClosed: 0 }

  constructor(options: InvalidationStreamOptions) {
    const d = INVALIDATION_STREAM_DEFAULTS
    this.#options = {
      maxSubscribers: positive(options.maxSubscribers ?? d.maxSubscribers, 'maxSubscribers'),
      maxTagsPerSubscriber: positive(options.maxTagsPerSubscriber ?? d.maxTagsPerSubscriber, 'maxTagsPerSubscriber'),
      heartbeatMs: positive(options.heartbeatMs ?? d.heartbeatMs, 'heartbeatMs'),
      historySize: positive(options.historySize ?? d.historySize, 'historySize'),
      maxBufferedBytes: positive(options.maxBufferedBytes ?? d.maxBufferedBytes, 'maxBufferedBytes'),
      path: options.path ?? d.path,
    }
    this.#clock = options.clock ?? systemClock
    const listener: BusListener = {
      onMessage: (message) => this.#onMessage(message),
      onGap: () => this.#resyncAll('gap'),
    }
    this.#unsubscribe = options.bus.subscribe(listener)
  }

  /** Open streams. */
  get subscribers(): number {
    return this.#subscribers.size
  }

  stats(): { subscribers: number; sent: number; resyncs: number; refused: number; slowClosed: number } {
    return { subscribers: this.#subscribers.size, ...this.#counters }
  }

  /** Answers one request for the stream (the caller routed it here by path). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed) return this.#refuse(res, 503, 'E_EVENTS_CLOSED', 'server', 'open', 'the event stream is shutting down')
    if (req.method !== 'GET') {
      return this.#refuse(res, 405, 'E_EVENTS_METHOD', 'method', 'GET', 'the event stream answers GET only', { allow: 'GET' })
    }
    const target = req.url ?? ''
    const q = target.indexOf('?')
    const path = q === -1 ? target : target.slice(0, q)
    // Two spellings: `<path>?tags=a,b`, and `<path>/a,b` (each tag percent-encoded) for proxies
    // and CDNs that drop query strings (the tiercache edge's default behavior does, outside /api/*).
    const inPath = path.startsWith(`${this.#options.path}/`)
    const raw = inPath ? path.slice(this.#options.path.length + 1) : new URLSearchParams(q === -1 ? '' : target.slice(q + 1)).getAll('tags').join(',')
    if (raw === '') {
      return this.#refuse(res, 400, 'E_EVENTS_NO_TAGS', 'tags', `a comma-separated list of tags: ${this.#options.path}?tags=product:1,products`, 'no tags to subscribe to')
    }
    const max = this.#options.maxTagsPerSubscriber
    // Counted before anything is checked or kept: a list of a million tags costs one split.
    const parts = raw.split(',', max + 1)
    if (parts.length > max) {
      return this.#refuse(res, 413, 'E_EVENTS_TOO_MANY_TAGS', 'tags', `at most ${max} tags per stream`, `too many tags: at most ${max} per stream`)
    }
    let malformed: string | undefined
    if (inPath) {
      for (let i = 0; i < parts.length; i++) {
        try {
          parts[i] = decodeURIComponent(parts[i]!)
        } catch {
          malformed ??= parts[i]
        }
      }
    }
    const bad = malformed ?? parts.find((tag) => !isStreamTag(tag))
    if (bad !== undefined) {
      return this.#refuse(res, 400, 'E_EVENTS_BAD_TAG', 'tags', '1 to 200 visible ASCII characters each, no comma or space',
        `malformed tag ${JSON.stringify(bad.slice(0, 40))}${bad.length > 40 ? '...' : ''}`)
    }
    if (this.#subscribers.size >= this.#options.maxSubscribers) {
      return this.#refuse(res, 429, 'E_EVENTS_TOO_MANY_SUBSCRIBERS', 'subscribers', `at most ${this.#options.maxSubscribers} open streams`,
        'too many open event streams: retry later', { 'retry-after': '5' })
    }
    const subscriber: Subscriber = { res, tags: new Set(parts) }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx buffers proxied responses unless told not to; an event must not wait for a buffer to fill.
      'x-accel-buffering': 'no',
    })
    res.flushHeaders()
    this.#subscribers.add(subscriber)
    for (const tag of subscriber.tags) {
      let set = this.#byTag.get(tag)
      if (set === undefined) this.#byTag.set(tag, set = new Set())
      set.add(subscriber)
    }
    res.on('close', () => this.#remove(subscriber))
    this.#write(subscriber, `retry: ${RETRY_MS}\nevent: ready\ndata: ${JSON.stringify({ v: EVENT_FORMAT_VERSION, tags: [...subscriber.tags] })}\n\n`)
    const lastId = req.headers['last-event-id']
    if (typeof lastId === 'string' && lastId !== '') this.#catchUp(subscriber, lastId)
    this.#armHeartbeat()
  }

  /** Ends every stream (the browsers reconnect elsewhere) and stops following the bus. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#unsubscribe()
    if (this.#heartbeat !== undefined) this.#clock.clearTimeout(this.#heartbeat)
    for (const subscriber of [...this.#subscribers]) subscriber.res.end()
    this.#subscribers.clear()
    this.#byTag.clear()
  }

  #onMessage(message: DeliveredMessage): void {
    if (this.#closed) return
    if (message.clear === true) return this.#resyncAll('clear')
    const tags = message.tags
    if (tags === undefined || tags.length === 0) return
    const event: Remembered = { seq: ++this.#seq, tags: [...new Set(tags)], version: message.version, at: message.at }
    this.#history.push(event)
    if (this.#history.length > this.#options.historySize) this.#history.shift()
    const matched = new Map<Subscriber, string[]>()
    for (const tag of event.tags) {
      for (const subscriber of this.#byTag.get(tag) ?? []) {
        const list = matched.get(subscriber)
        if (list === undefined) matched.set(subscriber, [tag])
        else list.push(tag)
      }
    }
    for (const [subscriber, subscribed] of matched) this.#send(subscriber, event, subscribed)
  }

  #send(subscriber: Subscriber, event: Remembered, tags: readonly string[]): void {
    const data = { v: EVENT_FORMAT_VERSION, tags, ...(event.version === undefined ? {} : { version: event.version }), at: event.at }
    this.#counters.sent++
    this.#write(subscriber, `id: ${this.#epoch}.${event.seq}\nevent: invalidate\ndata: ${JSON.stringify(data)}\n\n`)
  }

  /** Replays what a reconnecting stream missed after `lastId`, or tells it to resync when that is not known. */
  #catchUp(subscriber: Subscriber, lastId: string): void {
    const match = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastId)
    const seen = match === null || match[1] !== this.#epoch ? NaN : Number(match[2])
    const oldest = this.#history[0]?.seq ?? this.#seq + 1
    // Replayable: from this server, not past a gap, and nothing after it has left the history.
    if (!(seen >= this.#floor && seen >= oldest - 1 && seen <= this.#seq)) {
      this.#counters.resyncs++
      this.#write(subscriber, this.#resyncFrame(match === null || match[1] !== this.#epoch ? 'unknown-event-id' : 'missed'))
      return
    }
    for (const event of this.#history) {
      if (event.seq <= seen) continue
      const tags = event.tags.filter((tag) => subscriber.tags.has(tag))
      if (tags.length > 0) this.#send(subscriber, event, tags)
    }
  }

  #resyncAll(reason: string): void {
    if (this.#closed) return
    this.#floor = ++this.#seq
    this.#history.length = 0
    const frame = this.#resyncFrame(reason)
    for (const subscriber of [...this.#subscribers]) {
      this.#counters.resyncs++
      this.#write(subscriber, frame)
    }
  }

  #resyncFrame(reason: string): string {
    return `id: ${this.#epoch}.${this.#seq}\nevent: resync\ndata: ${JSON.stringify({ v: EVENT_FORMAT_VERSION, reason })}\n\n`
  }

  #write(subscriber: Subscriber, frame: string): void {
    const res = subscriber.res
    if (res.destroyed || res.writableEnded) return
    res.write(frame)
    if (res.writableLength > this.#options.maxBufferedBytes) {
      // A stream that does not read must not hold the server's memory: it reconnects and replays.
      this.#counters.slowClosed++
      this.#remove(subscriber)
      res.destroy()
    }
  }

  #remove(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber)) return
    for (const tag of subscriber.tags) {
      const set = this.#byTag.get(tag)
      set?.delete(subscriber)
      if (set?.size === 0) this.#byTag.delete(tag)
    }
  }

  #armHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#closed) return
    this.#heartbeat = this.#clock.setTimeout(() => {
      this.#heartbeat = undefined
      if (this.#subscribers.size === 0) return
      for (const subscriber of [...this.#subscribers]) this.#write(subscriber, ': heartbeat\n\n')
      this.#armHeartbeat()
    }, this.#options.heartbeatMs)
  }

  #refuse(res: ServerResponse, status: number, code: StreamRefusalCode, field: string, rule: string, error: string, headers: Record<string, string> = {}): void {
    this.#counters.refused++
    const body = JSON.stringify({ error, code, field, rule })
    // The request's body (if any) is not read: the connection is not reused.
    res.shouldKeepAlive = false
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers })
    res.end(body)
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidOptionError(name, 'a positive integer', value)
  return value
}
