import type { CacheEntry } from '../../src/ports/entry.js'
import type { CacheStore } from '../../src/ports/store.js'

export type ChaosMode = 'ok' | 'fail' | 'hang'

/**
 * Wraps a real store and makes it fail or hang on demand (bentocache's chaos cache). Calls always
 * go through a promise, like a network store. `calls` counts what reached the wrapper.
 */
export class ChaosStore implements CacheStore {
  readonly name: string
  mode: ChaosMode = 'ok'
  calls = 0
  readonly #inner: CacheStore
  readonly #hanging = new Set<() => void>()

  constructor(inner: CacheStore) {
    this.#inner = inner
    this.name = `chaos(${inner.name})`
  }

  #run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.calls++
    if (this.mode === 'fail') return Promise.reject(new Error('chaos: store failure'))
    if (this.mode === 'hang') {
      return new Promise<T>((_resolve, reject) => {
        this.#hanging.add(() => reject(new Error('chaos: released')))
      })
    }
    return Promise.resolve().then(fn)
  }

  /** Rejects every hanging call (what a connection reset would do). */
  releaseHanging(): void {
    for (const release of this.#hanging) release()
    this.#hanging.clear()
  }

  get(key: string): Promise<CacheEntry | undefined> { return this.#run(() => this.#inner.get(key)) }
  getMany(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> { return this.#run(() => this.#inner.getMany(keys)) }
  set(key: string, entry: CacheEntry): Promise<void> { return this.#run(() => this.#inner.set(key, entry)) }
  setMany(entries: readonly (readonly [string, CacheEntry])[]): Promise<void> { return this.#run(() => this.#inner.setMany(entries)) }
  delete(key: string): Promise<boolean> { return this.#run(() => this.#inner.delete(key)) }
  deleteMany(keys: readonly string[]): Promise<number> { return this.#run(() => this.#inner.deleteMany(keys)) }
  clear(): Promise<void> { return this.#run(() => this.#inner.clear()) }
  close(): Promise<void> { return Promise.resolve(this.#inner.close()) }
}
