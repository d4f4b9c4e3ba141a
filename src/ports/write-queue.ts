/**
 * The write-behind queue port: a durable, ordered log of writes shared by every process that opens
 * the same queue, consumed by a group of flushers. The Redis adapter (`tiercache/redis`) keeps it
 * in a Stream with a consumer group; any log with acknowledgements and ownership transfer can
 * implement it.
 *
 * Contract:
 * - `enqueue` resolves only once the write is stored where it survives the writing process (for
 *   Redis: acknowledged by the server); it assigns a sequence number that increases with queue
 *   order and never repeats, even after the queue itself was lost and recreated;
 * - a write read by a consumer stays owned by it until acknowledged, buried or claimed by another
 *   consumer; nothing is removed before `ack` or `bury`;
 * - `pending` counts writes enqueued and not yet acknowledged or buried, whoever holds them.
 */
export interface WriteQueue {
  /** The queue's name (also names its storage). */
  readonly name: string
  /**
   * Appends writes, in order, in one atomic step; each is refused (`full`) if `maxPending` writes
   * are pending at its turn (0: no limit), so concurrent writers cannot overshoot the limit
   * together. Answers one result per write, in order.
   */
  enqueue(writes: readonly NewWrite[], maxPending: number): Promise<EnqueueResult[]>
  /**
   * Reads up to `count` writes no consumer has read yet and makes `consumer` their owner. Waits up
   * to `blockMs` for the first one (0: answers at once).
   */
  read(consumer: string, count: number, blockMs: number): Promise<ReadResult>
  /** Removes flushed writes from the queue. */
  ack(ids: readonly string[]): Promise<void>
  /** Moves a write that could not be flushed to the dead letters, in one atomic step. */
  bury(write: QueuedWrite, attempts: number, error: string, at: number): Promise<void>
  /** Says `consumer` is alive for `ttlMs`; a consumer silent longer is presumed dead. */
  heartbeat(consumer: string, ttlMs: number): Promise<void>
  /**
   * Takes over up to `count` writes owned by consumers presumed dead that have been idle for at
   * least `minIdleMs`, making `consumer` their owner. Forgets dead consumers that own nothing.
   */
  claim(consumer: string, minIdleMs: number, count: number): Promise<ClaimedWrite[]>
  /** Withdraws `consumer` (closing): what it owns can be claimed at once. */
  leave(consumer: string): Promise<void>
  /** Writes enqueued and not yet acknowledged or buried, in every process. */
  pending(): Promise<number>
  /** Position of the newest pending write, or undefined when nothing is pending. */
  tail(): Promise<string | undefined>
  /** True while some write at or before position `id` is still pending. */
  holdsUpTo(id: string): Promise<boolean>
  /** The oldest dead letters, up to `limit`. */
  deadLetters(limit: number): Promise<DeadLetter[]>
  /** How many dead letters there are. */
  deadCount(): Promise<number>
  /** Puts dead letters back in the queue (all of them without `ids`), with their sequence numbers. Resolves to how many. */
  retryDead(ids: readonly string[] | undefined): Promise<number>
  /** Deletes dead letters (all of them without `ids`). Resolves to how many. */
  dropDead(ids: readonly string[] | undefined): Promise<number>
  /** Closes what the queue opened for itself (a blocked read is interrupted). */
  close(): Promise<void>
}

/** A write about to be queued: the value already serialized by the cache's serializer. */
export interface NewWrite {
  readonly key: string
  /** Enqueue time, epoch ms of the writer's clock (flush lag is measured from it). */
  readonly at: number
  /** Id of the serializer that produced `bytes`. */
  readonly serializer: number
  readonly bytes: Buffer
}

/** What `enqueue` did. */
export type EnqueueResult =
  | { readonly status: 'queued'; readonly id: string; readonly seq: number }
  /** `maxPending` writes are pending: nothing was appended. */
  | { readonly status: 'full'; readonly pending: number }

/** A write as stored in the queue. */
export interface QueuedWrite extends NewWrite {
  /** Position in the queue (opaque, increasing). */
  readonly id: string
  /** Sequence number: increases with queue order, never repeats. Flushes compare it to keep the newest. */
  readonly seq: number
  /** Set when the stored write could not be decoded (unknown format version, missing field): it is buried as is. */
  readonly malformed?: string | undefined
  /** Attempts it had when it went to the dead letters, when it was put back from there. */
  readonly buried?: number | undefined
}

/** What `read` answered. */
export interface ReadResult {
  readonly writes: readonly QueuedWrite[]
  /**
   * True when the queue had vanished and was recreated empty (Redis restarted without persistence,
   * or its data was flushed): writes acknowledged before may be lost.
   */
  readonly recreated: boolean
}

/** A write taken over from a dead consumer. */
export interface ClaimedWrite {
  readonly write: QueuedWrite
  /** How many times the write has been handed to a consumer, this time included. */
  readonly deliveries: number
}

/** A write that failed `maxAttempts` times, kept aside. */
export interface DeadLetter {
  /** Position in the dead letters (what `retryDead` and `dropDead` take). */
  readonly id: string
  readonly key: string
  readonly seq: number
  readonly at: number
  readonly serializer: number
  readonly bytes: Buffer
  readonly attempts: number
  /** The last error's message. */
  readonly error: string
  /** When it was buried, epoch ms. */
  readonly deadAt: number
}

/**
 * Queue entry format version: every entry carries it; a consumer buries entries of a version it
 * does not know instead of guessing. The Redis adapter's field layout is pinned by a test.
 */
export const WRITE_QUEUE_FORMAT_VERSION = 1
