/**
 * The change-capture port: something that follows the database's committed changes and turns each
 * one into an invalidation (keys + tags) published to every cache tier and every edge. Two modes
 * can sit behind it: the outbox (triggers write each change into a table in the same transaction;
 * works on any PostgreSQL, PGlite included) and logical replication. Callers see only this.
 */

/** One committed row change, as captured: the mapped columns' values before and/or after. */
export interface CapturedChange {
  /** The table as named in the mapping (`products`, `shop.order_lines`). */
  readonly table: string
  readonly op: 'insert' | 'update' | 'delete'
  /** The mapped columns' values of one row image (old or new), as the database rendered them. */
  readonly values: Readonly<Record<string, unknown>>
  /** The row's version column, when the mapping names one (a source version for tombstones). */
  readonly version?: number | undefined
}

/** What capture publishes to: the invalidation stream. Resolves only once every tier confirmed it. */
export interface InvalidationSink {
  /**
   * Publishes one invalidation. Resolves to true when it is confirmed everywhere (L2 and the bus),
   * false when it was not (it must then be published again before the capture position advances).
   */
  invalidate(what: { keys: readonly string[]; tags: readonly string[]; version?: number | undefined }): Promise<boolean>
}

/** Figures a capture exports (`stats()`), for dashboards and tests waiting for a signal. */
export interface CaptureStats {
  readonly mode: 'outbox' | 'logical'
  /** True while this invalidator holds the lease (is the one working); false while it waits. */
  readonly active: boolean
  /** Changes published since start. */
  readonly published: number
  /** Invalidation messages published since start (changes are batched and deduplicated). */
  readonly messages: number
  /** Changes per second published, over the last 10 s. */
  readonly changesPerSecond: number
  /** Commit → published, in ms, of the newest batch (0 before the first). */
  readonly lagMs: number
  /** The largest lag seen since start. */
  readonly maxLagMs: number
  /** Changes waiting in the outbox (as of the last poll). */
  readonly depth: number
  /** Failed polls or publishes since start (each retried). */
  readonly errors: number
  /** Rows that could not be turned into a valid key or tag (skipped, logged). */
  readonly skipped: number
  /** Steps run (each: lease taken or renewed or refused, then a read when held). A signal that it is working. */
  readonly steps: number
  /** Times this invalidator took the lease (1 after a clean start; more after take-overs). */
  readonly takeovers: number
}

/** A running capture. */
export interface ChangeCapture {
  stats(): CaptureStats
  /**
   * Resolves once every change of the transaction `xid` (a committed one, or one that rolled back:
   * then at once) has been published, along with everything committed before it.
   * For read-your-writes after a commit; rejects only when the capture is closed.
   */
  waitFor(xid: bigint): Promise<void>
  /** Stops polling, gives the lease back (so a standby takes over at once). */
  close(): Promise<void>
}
