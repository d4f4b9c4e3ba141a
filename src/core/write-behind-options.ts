import type { WriteQueue } from '../ports/write-queue.js'
import { assertKnownKeys, entryDuration, isRecord, timerDuration } from './call-options.js'
import type { Duration } from './duration.js'
import { InvalidOptionError } from './errors.js'
import type { CacheSettings } from './settings.js'

/** One key's newest queued write, as `flush` receives it. */
export interface WriteBehindItem<T = unknown> {
  readonly key: string
  readonly value: T
  /**
   * The write's sequence number: it grows with queue order and never repeats, even after the
   * queue was lost. Store it with the row and update only when it is greater (see the SQL in
   * docs/write-patterns.md): a replay, or an older write flushed late by another process, is then a
   * no-op, and no row ever goes back.
   */
  readonly seq: number
  /** When the write was queued (epoch ms, the writer's clock). */
  readonly at: number
  /** How many queued writes of this key this item stands for (the older ones coalesced into it). */
  readonly writes: number
}

/** What `flush` receives besides the batch. */
export interface FlushContext {
  /** Aborted when `flushTimeout` passes or the writer closes: pass it on to the database call. */
  readonly signal: AbortSignal
}

/** Writes a batch to the source of truth; resolving means every item is durable there. */
export type FlushFunction<T> = (batch: readonly WriteBehindItem<T>[], context: FlushContext) => Promise<void> | void

/** Options of `cache.writeBehind`. */
export interface WriteBehindOptions<T = unknown> {
  /** Writes a batch to the database (one item per key, the newest write). Required unless `consume: false`. */
  flush?: FlushFunction<T>
  /** Queued writes a flusher takes per batch, before coalescing. Default 500. */
  batchSize?: number
  /** How long a flusher gathers writes before flushing a batch that is not full. Default `'100ms'`. */
  flushInterval?: Duration
  /** Writes pending in the queue (every process) beyond which `write` waits or throws `E_BACKPRESSURE`. Default 100,000. */
  maxPending?: number
  /** Over `maxPending`: `'wait'` (default, up to `maxWait`, then `E_BACKPRESSURE`) or `'throw'` at once. */
  whenFull?: 'wait' | 'throw'
  /** How long a write waits for room in `'wait'` mode. Default `'5s'`. */
  maxWait?: Duration
  /** Failed flushes of a write, counted when the database is otherwise working, before it goes to the dead letters. Default 5. */
  maxAttempts?: number
  /** How long `write` waits for the queue to acknowledge, and the budget of the flusher's queue calls. Default `'2s'`. */
  timeout?: Duration
  /** A `flush` still running after this counts as failed (its signal is aborted). Default `'30s'`. */
  flushTimeout?: Duration
  /** First retry delay after a failed flush; doubles per failure. Default `'100ms'`. */
  retryDelay?: Duration
  /** Longest retry delay. Default `'30s'`. */
  maxRetryDelay?: Duration
  /** A flusher silent this long (process gone) has its pending writes taken over by the others. Default `'5s'`. */
  flusherTimeout?: Duration
  /** Freshness of the cached copy written with each write. Default: the cache's `ttl`. */
  ttl?: Duration
  /** Grace of the cached copy. Default: the cache's `grace`. */
  grace?: Duration
  /** `false`: this process only writes; flushing is left to other processes. Default true. */
  consume?: boolean
  /** A queue of your own (the port); default: a Redis Stream on the cache's L2 connection. */
  queue?: WriteQueue
}

/** Defaults, in one place. */
export const WRITE_BEHIND_DEFAULTS = {
  batchSize: 500,
  flushInterval: 100,
  maxPending: 100_000,
  whenFull: 'wait',
  maxWait: 5_000,
  maxAttempts: 5,
  timeout: 2_000,
  flushTimeout: 30_000,
  retryDelay: 100,
  maxRetryDelay: 30_000,
  flusherTimeout: 5_000,
} as const

/** `WriteBehindOptions` once validated. */
export interface ResolvedWriteBehind {
  readonly flush: FlushFunction<unknown> | undefined
  readonly batchSize: number
  readonly flushInterval: number
  readonly maxPending: number
  readonly whenFull: 'wait' | 'throw'
  readonly maxWait: number
  readonly maxAttempts: number
  readonly timeout: number
  readonly flushTimeout: number
  readonly retryDelay: number
  readonly maxRetryDelay: number
  readonly flusherTimeout: number
  readonly ttl: number
  readonly grace: number
  readonly consume: boolean
  readonly queue: WriteQueue | undefined
}

const KEYS: ReadonlySet<string> = new Set(['flush', 'batchSize', 'flushInterval', 'maxPending', 'whenFull', 'maxWait', 'maxAttempts', 'timeout',
  'flushTimeout', 'retryDelay', 'maxRetryDelay', 'flusherTimeout', 'ttl', 'grace', 'consume', 'queue'])

/** A queue name: becomes part of Redis key names. */
const NAME = /^[A-Za-z0-9_.:-]{1,100}$/

/** Validates a queue name and `writeBehind` options, once, when the writer is opened. */
export function resolveWriteBehind(settings: CacheSettings, name: unknown, options: unknown): ResolvedWriteBehind {
  if (typeof name !== 'string' || !NAME.test(name)) throw new InvalidOptionError('name', 'a string of 1 to 100 characters from [A-Za-z0-9_.:-]', name)
  if (!isRecord(options)) throw new InvalidOptionError('options', 'an object with a flush function', options)
  assertKnownKeys(options, KEYS)
  const o = options as WriteBehindOptions
  const consume = o.consume ?? true
  if (typeof consume !== 'boolean') throw new InvalidOptionError('consume', 'a boolean', consume)
  if (o.flush !== undefined && typeof o.flush !== 'function') throw new InvalidOptionError('flush', 'a function (batch, context) => Promise<void>', o.flush)
  if (consume && o.flush === undefined) throw new InvalidOptionError('flush', 'a function (batch, context) => Promise<void> (or consume: false)', o.flush)
  const whenFull = o.whenFull ?? WRITE_BEHIND_DEFAULTS.whenFull
  if (whenFull !== 'wait' && whenFull !== 'throw') throw new InvalidOptionError('whenFull', "'wait' or 'throw'", whenFull)
  const queue = o.queue
  if (queue !== undefined && (!isRecord(queue) || typeof queue.enqueue !== 'function' || typeof queue.read !== 'function')) {
    throw new InvalidOptionError('queue', 'a WriteQueue', queue)
  }
  const timeout = o.timeout === undefined ? WRITE_BEHIND_DEFAULTS.timeout : timerDuration(o.timeout, 'timeout')
  const retryDelay = o.retryDelay === undefined ? WRITE_BEHIND_DEFAULTS.retryDelay : timerDuration(o.retryDelay, 'retryDelay')
  const maxRetryDelay = o.maxRetryDelay === undefined ? Math.max(WRITE_BEHIND_DEFAULTS.maxRetryDelay, retryDelay) : timerDuration(o.maxRetryDelay, 'maxRetryDelay')
  if (maxRetryDelay < retryDelay) throw new InvalidOptionError('maxRetryDelay', `a duration of at least retryDelay (${retryDelay}ms)`, o.maxRetryDelay)
  return Object.freeze({
    flush: o.flush,
    batchSize: integer(o.batchSize, 'batchSize', WRITE_BEHIND_DEFAULTS.batchSize, 1, 100_000),
    flushInterval: o.flushInterval === undefined ? WRITE_BEHIND_DEFAULTS.flushInterval : timerDuration(o.flushInterval, 'flushInterval', true),
    maxPending: integer(o.maxPending, 'maxPending', WRITE_BEHIND_DEFAULTS.maxPending, 1, Number.MAX_SAFE_INTEGER),
    whenFull,
    maxWait: o.maxWait === undefined ? WRITE_BEHIND_DEFAULTS.maxWait : timerDuration(o.maxWait, 'maxWait', true),
    maxAttempts: integer(o.maxAttempts, 'maxAttempts', WRITE_BEHIND_DEFAULTS.maxAttempts, 1, 1_000),
    timeout,
    flushTimeout: o.flushTimeout === undefined ? WRITE_BEHIND_DEFAULTS.flushTimeout : timerDuration(o.flushTimeout, 'flushTimeout'),
    retryDelay,
    maxRetryDelay,
    flusherTimeout: o.flusherTimeout === undefined ? WRITE_BEHIND_DEFAULTS.flusherTimeout : timerDuration(o.flusherTimeout, 'flusherTimeout'),
    ttl: o.ttl === undefined ? settings.ttl : entryDuration(o.ttl, 'ttl'),
    grace: o.grace === undefined ? settings.grace : entryDuration(o.grace, 'grace'),
    consume,
    queue,
  })
}

function integer(value: unknown, option: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `an integer from ${min} to ${max}`, value)
  }
  return value
}
