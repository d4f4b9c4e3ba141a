import { ClientError } from './client-errors.js'
import type { StateBackend } from './state-cache.js'

/** The state cache over `localStorage` (synchronous underneath; a few MB per origin). */
export function localStorageBackend(storage: Storage = globalThis.localStorage): StateBackend {
  if (storage === undefined) throw new ClientError('E_UNSUPPORTED', 'this context has no localStorage')
  return {
    get: (key) => Promise.resolve(storage.getItem(key) ?? undefined),
    // A full store throws from setItem: the executor turns it into the rejection the state cache handles.
    set: (key, value) => new Promise<void>((resolve) => {
      storage.setItem(key, value)
      resolve()
    }),
    delete: (key) => Promise.resolve(storage.removeItem(key)),
    keys: () => {
      const keys: string[] = []
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i)
        if (key !== null) keys.push(key)
      }
      return Promise.resolve(keys)
    },
  }
}

/**
 * The state cache over IndexedDB (asynchronous; a larger quota than localStorage, and usable from
 * workers). One object store of string records in database `name`.
 */
export async function indexedDbBackend(name = 'tiercache-state'): Promise<StateBackend> {
  if (typeof indexedDB === 'undefined') throw new ClientError('E_UNSUPPORTED', 'this context has no IndexedDB')
  const STORE = 'records'
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open(name, 1)
    open.onupgradeneeded = () => { open.result.createObjectStore(STORE) }
    open.onsuccess = () => resolve(open.result)
    open.onerror = () => reject(open.error ?? new Error('IndexedDB could not be opened'))
  })
  const run = <T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest): Promise<T> => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode)
    const request = work(tx.objectStore(STORE))
    // Resolved on the transaction's completion: a write is durable, and a quota error surfaces as the transaction's error.
    tx.oncomplete = () => resolve(request.result as T)
    tx.onerror = () => reject(tx.error ?? request.error ?? new Error('IndexedDB transaction failed'))
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
  })
  return {
    get: async (key) => {
      const value = await run<unknown>('readonly', (s) => s.get(key))
      return typeof value === 'string' ? value : undefined
    },
    set: (key, value) => run<void>('readwrite', (s) => s.put(value, key)),
    delete: (key) => run<void>('readwrite', (s) => s.delete(key)),
    keys: async () => (await run<IDBValidKey[]>('readonly', (s) => s.getAllKeys())).filter((k): k is string => typeof k === 'string'),
  }
}
