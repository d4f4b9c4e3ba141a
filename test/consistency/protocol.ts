/**
 * What the consistency orchestrator and its worker processes say to each other over the IPC
 * channel of `child_process.fork`. Requests carry an id; the worker answers each one once.
 * Workers also push unsolicited `progress` events while they run.
 */

/** How a writer invalidates after its commit (chosen at random per write). */
export const WRITE_METHODS = ['delete', 'invalidate', 'tags', 'set'] as const
export type WriteMethod = (typeof WRITE_METHODS)[number]

/** Everything a worker needs to run. */
export interface WorkerConfig {
  readonly index: number
  readonly redisUrl: string
  readonly databaseUrl: string
  /** The source-of-truth table: `(id int primary key, version int, data text)`. */
  readonly table: string
  readonly namespace: string
  /** Rows 0..keys-1 exist; cache key `row:<id>`, tag `item:<id>`. */
  readonly keys: number
  /** The first `hotKeys` ids get `hotFraction` of the operations (contention on purpose). */
  readonly hotKeys: number
  readonly hotFraction: number
  /** Concurrent operation loops in this process. */
  readonly lanes: number
  readonly seed: number
  /** Operation mix (fractions; the rest are writes). */
  readonly readFraction: number
  readonly getManyFraction: number
  /** Keys per getMany. */
  readonly getManySize: number
  readonly methods: readonly WriteMethod[]
  /**
   * `false` (default): odd ids are write-through keys (only `set` and versioned `invalidate`), even
   * ids cache-aside keys (`delete`, `invalidate`, `tags`). A versioned write-through racing an
   * unversioned invalidation of a newer commit cannot be ordered by any cache (nothing says the
   * set is older), so mixing them on one key is outside the contract; `true` does it anyway.
   */
  readonly mixStrategies: boolean
  /** `false` runs without the bus (a deliberately broken setup: the checker must catch it). */
  readonly bus: boolean
  readonly ttlMs: number
  /** L2 per-operation budget; undefined for the library default. */
  readonly l2TimeoutMs: number | undefined
  readonly leaseTtlMs: number
  readonly fencedTtlMs: number
  /** Each lane pauses a random 0..2x this many ms between operations (0: only yields to the event loop). */
  readonly paceMs: number
  /** Half of the writes pause a random 0..this many ms between commit and invalidation (0: none). */
  readonly postCommitDelayMs: number
  /** Send a progress event every this many operations. */
  readonly progressEvery: number
  /**
   * `true`: `init` answers as soon as the cache is created, and operations start at once (a node
   * right after a deploy). `false`: `init` waits until the bus follows the stream.
   */
  readonly cold: boolean
}

/** A request from the orchestrator. */
export type Request =
  | { readonly id: number; readonly cmd: 'init'; readonly config: WorkerConfig }
  | { readonly id: number; readonly cmd: 'run' | 'stop' | 'status' | 'peek' | 'report' | 'close' }

/** `status` answer: what quiescence waits for. */
export interface WorkerStatus {
  readonly ops: number
  readonly pendingInvalidations: number
  readonly fenced: boolean
  readonly busConnected: boolean
  readonly flushes: number
}

/** `peek` answer: `[id, version, data]` of what L1 serves for each id, or null. */
export type PeekRow = readonly [id: number, version: number, data: string] | null

/** A read: key id, version returned (-1 when getMany missed), start and end (epoch ms, fractional). */
export type ReadRecord = readonly [id: number, version: number, start: number, end: number, source: number, stale: number]
/** Where a read was answered, as recorded in {@link ReadRecord}. */
export const READ_SOURCES = ['l1', 'l2', 'loader', 'getMany'] as const

/**
 * A write: key id, the committed version, commit time, invalidation-complete time (the call
 * returned), method index, and 1 when the writer's outbox was not empty after the call (the
 * invalidation, or an earlier one, still waits to be confirmed by Redis and the bus).
 */
export type WriteRecord = readonly [id: number, version: number, committedAt: number, invalidatedAt: number, method: number, queued: number]

/**
 * A propagation sample: publish time on the publishing node, receive time here (epoch ms), and the
 * row id the message was about (from its key `row:<id>` or tag `item:<id>`; -1 if none).
 */
export type PropagationRecord = readonly [publishedAt: number, receivedAt: number, id: number]

/** `report` answer. */
export interface WorkerReport {
  readonly index: number
  readonly ops: { readonly reads: number; readonly getMany: number; readonly writes: number; readonly errors: number }
  readonly errorSamples: readonly string[]
  readonly reads: readonly ReadRecord[]
  readonly writes: readonly WriteRecord[]
  readonly propagation: readonly PropagationRecord[]
  readonly flushes: readonly { readonly at: number; readonly reason: string }[]
  readonly warnings: number
  readonly warningSamples: readonly string[]
  readonly stats: unknown
}

/** An answer from a worker, or a progress event. */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }
  | { readonly event: 'progress'; readonly ops: number }

/** The cache key and the tag of row `id`. */
export const keyOf = (id: number): string => `row:${id}`
export const tagOf = (id: number): string => `item:${id}`

/** Wall-clock epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now()
}
