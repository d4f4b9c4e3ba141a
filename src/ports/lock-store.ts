/**
 * The lock port. Implementations: Redis (atomic SET NX PX + a fencing counter, compare-and-delete
 * release, compare-and-pexpire extend, in Lua) and an in-process one for caches without Redis.
 */
export interface LockStore {
  /** Takes the lock for `ttlMs` if free; resolves to a fencing token (strictly increasing per name), or undefined when held. */
  acquireLock(name: string, token: string, ttlMs: number): Promise<number | undefined>
  /** Releases the lock if `token` still holds it; false when it had expired or was taken over. */
  releaseLock(name: string, token: string): Promise<boolean>
  /** Extends the lock if `token` still holds it; false otherwise. */
  extendLock(name: string, token: string, ttlMs: number): Promise<boolean>
}

export function isLockStore(store: unknown): store is LockStore {
  const s = store as Partial<LockStore> | undefined
  return typeof s?.acquireLock === 'function' && typeof s.releaseLock === 'function' && typeof s.extendLock === 'function'
}
