import type { CoherentStore } from '../ports/coherent-store.js'
import { isCoherentStore } from '../ports/coherent-store.js'
import { isConnecting } from '../ports/connecting.js'
import type { CacheEntry } from '../ports/entry.js'
import type { LockStore } from '../ports/lock-store.js'
import { isLockStore } from '../ports/lock-store.js'
import type { PrefixStore } from '../ports/prefix-store.js'
import { isPrefixStore } from '../ports/prefix-store.js'
import type { CacheStore } from '../ports/store.js'
import type { WriteFenceStore } from '../ports/write-fence.js'
import { isWriteFenceStore } from '../ports/write-fence.js'
import type { TierGuard } from './tier-guard.js'

/**
 * The shared tier (L2) as the cache sees it: a store behind its guard. Every call goes through the
 * guard (a time budget, the breaker, a fallback), so nothing here ever rejects. The store's
 * capabilities (leases and tombstones, locks) are known from construction on: the composition
 * root hands over a store object, connected or not, never a promise of one.
 */
export class SharedTier {
  readonly guard: TierGuard
  readonly store: CacheStore
  /** The store's coherence capabilities (leases, tombstones, tag versions), when it has them. */
  readonly coherent: CoherentStore | undefined
  /** The store's lock capabilities, when it has them. */
  readonly locks: LockStore | undefined
  /** The store's write-through fencing, when it has it. */
  readonly fence: WriteFenceStore | undefined
  /** The store's removal by prefix, when it has it. */
  readonly prefixes: PrefixStore | undefined

  constructor(guard: TierGuard, store: CacheStore) {
    this.guard = guard
    this.store = store
    this.coherent = isCoherentStore(store) ? store : undefined
    this.locks = isLockStore(store) ? store : undefined
    this.fence = isWriteFenceStore(store) ? store : undefined
    this.prefixes = isPrefixStore(store) ? store : undefined
  }

  /**
   * Settles once the store's first connection attempt is over (true: usable). Stores that do not
   * connect to anything answer true at once.
   */
  whenConnected(): Promise<boolean> {
    return isConnecting(this.store) ? this.store.whenConnected() : Promise.resolve(true)
  }

  /** Runs `fn` on the store within the guard; resolves to `fallback` on any failure. */
  call<T, F>(fn: (store: CacheStore) => T | Promise<T>, fallback: F): Promise<T | F> {
    const store = this.store
    return this.guard.run(() => fn(store), fallback)
  }

  /** `call((s) => s.get(key), undefined).then(map)` in one promise: the L2 hit path. */
  get<R>(key: string, map: (entry: CacheEntry | undefined) => R | Promise<R>): Promise<R> {
    return this.guard.runWith<CacheEntry | undefined, R>(this.store, key, map)
  }

  /** Removes keys (voiding fill leases, raising tombstones when `version` is given). False when the store failed. */
  invalidate(keys: readonly string[], version: number | undefined, tombstoneMs: number): Promise<boolean> {
    const coherent = this.coherent
    if (coherent !== undefined) return this.call(() => coherent.invalidate(keys, version, tombstoneMs).then(() => true), false)
    return this.call(async (s) => { await s.deleteMany(keys); return true }, false)
  }

  /**
   * Writes explicit values (voiding fill leases). Resolves to the keys the store refused as older
   * than what it has seen (`refused`) and the keys whose write failed (`failed`).
   */
  async write(entries: readonly (readonly [string, CacheEntry])[]): Promise<{ refused: Set<string>; failed: string[] }> {
    const refused = new Set<string>()
    const failed: string[] = []
    const coherent = this.coherent
    if (coherent !== undefined) {
      const many = coherent.setEntries?.bind(coherent)
      const results = many !== undefined && entries.length > 1
        ? await this.call(() => many(entries), undefined) ?? entries.map(() => undefined)
        : await Promise.all(entries.map(([key, entry]) => this.call(() => coherent.setEntry(key, entry), undefined)))
      results.forEach((result, i) => {
        const key = (entries[i] as readonly [string, CacheEntry])[0]
        if (result === 'outdated') refused.add(key)
        else if (result === undefined) failed.push(key)
      })
    } else {
      const ok = await this.call(async (s) => {
        const first = entries[0] as readonly [string, CacheEntry]
        await (entries.length === 1 ? s.set(first[0], first[1]) : s.setMany(entries))
        return true
      }, false)
      if (!ok) failed.push(...entries.map(([key]) => key))
    }
    return { refused, failed }
  }
}
