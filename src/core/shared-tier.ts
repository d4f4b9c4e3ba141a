import type { CacheEntry } from '../ports/entry.js'
import type { TierGuard } from './tier-guard.js'
import type { CoherentStore } from '../ports/coherent-store.js'
import { isCoherentStore } from '../ports/coherent-store.js'
import type { CacheStore } from '../ports/store.js'

/**
 * The shared tier (L2) as the cache sees it: a store, possibly still connecting, behind its guard.
 * Every L2 call goes through `call` (or the `get` fast path): a time budget, the breaker, a fallback.
 */
export class SharedTier {
  readonly guard: TierGuard
  #store: CacheStore | undefined
  #coherent: CoherentStore | undefined
  #pending: Promise<CacheStore> | undefined

  constructor(guard: TierGuard, store: CacheStore | Promise<CacheStore>) {
    this.guard = guard
    if (store instanceof Promise) {
      this.#pending = store.then((ready) => {
        this.#adopt(ready)
        return ready
      })
      this.#pending.catch(() => {})
    } else {
      this.#adopt(store)
    }
  }

  /** The store, once connected. */
  get store(): CacheStore | undefined {
    return this.#store
  }

  /** The store's coherence capabilities (leases, tombstones, tag versions), when it has them. */
  get coherent(): CoherentStore | undefined {
    return this.#coherent
  }

  /** Resolves once the store is connected (or failed to). */
  async ready(): Promise<void> {
    await this.#pending?.catch(() => undefined)
  }

  /** Runs `fn` on the store within the guard; resolves to `fallback` on any failure. */
  call<T, F>(fn: (store: CacheStore) => T | Promise<T>, fallback: F): Promise<T | F> {
    const store = this.#store
    if (store !== undefined) return this.guard.run(() => fn(store), fallback)
    // Still connecting (first calls after createCache): wait for the connection, bounded by
    // l2.connectTimeout, then run the call under the usual budget.
    const pending = this.#pending as Promise<CacheStore>
    return pending.then((ready) => this.guard.run(() => fn(ready), fallback), () => fallback)
  }

  /** `call((s) => s.get(key), undefined).then(map)` in one promise: the L2 hit path. */
  get<R>(key: string, map: (entry: CacheEntry | undefined) => R | Promise<R>): Promise<R> {
    const store = this.#store
    return store !== undefined ? this.guard.runWith<CacheEntry | undefined, R>(store, key, map) : this.call((s) => s.get(key), undefined).then(map)
  }

  #adopt(store: CacheStore): void {
    this.#store = store
    this.#coherent = isCoherentStore(store) ? store : undefined
    this.#pending = undefined
  }
}
