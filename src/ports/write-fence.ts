import type { CacheEntry } from './entry.js'

/** Outcome of {@link WriteFenceStore.commitWrite}. */
export type CommitResult =
  /** Written. */
  | 'ok'
  /** The fence was voided while the source write ran (an invalidation, an explicit set, expiry): not written. */
  | 'lost'
  /** Redis has seen a newer version of the key (stored entry or tombstone): not written. */
  | 'outdated'

/**
 * Write-through fencing in the shared tier. A write-through announces itself before the source
 * write runs (`beginWrite`): that voids fill leases in flight (they may have read the row before
 * the commit) and holds new fills back. After the source write committed, `commitWrite` stores the
 * value only if nothing invalidated or explicitly set the key meanwhile, and only if Redis has not
 * seen a newer version. Several write-throughs of one key may be in flight at once: each holds its
 * own token, and the newest version wins whatever order their commits reach Redis in.
 */
export interface WriteFenceStore {
  /** Registers a write-through of `key` with `token`, for at most `ttlMs`. */
  beginWrite(key: string, token: string, ttlMs: number): Promise<void>
  /** Stores `entry` if `token` still holds and no newer version was seen. */
  commitWrite(key: string, entry: CacheEntry, token: string): Promise<CommitResult>
  /** Withdraws `token` (the source write failed): the entry is left as it was. */
  abortWrite(key: string, token: string): Promise<void>
  /**
   * Removes the entry only if it carries source version `version` (a queued write that will never
   * reach the source): a newer value written since is kept. True when something was removed.
   */
  deleteIfVersion(key: string, version: number): Promise<boolean>
}

/** True when a store offers write-through fencing. */
export function isWriteFenceStore(store: unknown): store is WriteFenceStore {
  const s = store as Partial<WriteFenceStore> | undefined
  return typeof s?.beginWrite === 'function' && typeof s.commitWrite === 'function' && typeof s.abortWrite === 'function' &&
    typeof s.deleteIfVersion === 'function'
}
