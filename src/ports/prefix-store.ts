/** Where a prefix removal stands between two steps: opaque to the caller, passed back as is. */
export type PrefixCursor = object

/** What one step of a prefix removal did. */
export interface PrefixStep {
  /** Where to continue from; undefined once every node has been scanned. */
  readonly cursor: PrefixCursor | undefined
  /** Keys removed by this step. */
  readonly deleted: number
}

/**
 * Removal of every key starting with a prefix, in bounded steps: each step looks at about `batch`
 * keys of one node and removes the matching ones with commands of at most `batch` keys, so no
 * single command holds the server for long (Redis: cursor SCAN + UNLINK on every master, never
 * KEYS). The caller runs steps one after the other, each under its own time budget.
 *
 * Contract: fill leases of matching keys are removed before their entries (every lease present
 * when the removal started is either removed, voiding its fill, or was released by a fill that
 * completed before the entries are scanned, whose entry is then removed). Tombstones are kept.
 */
export interface PrefixStore {
  deletePrefixStep(prefix: string, cursor: PrefixCursor | undefined, batch: number): Promise<PrefixStep>
}

/** True when a store can remove keys by prefix. */
export function isPrefixStore(store: unknown): store is PrefixStore {
  return typeof (store as Partial<PrefixStore> | undefined)?.deletePrefixStep === 'function'
}
