import type { Database } from '../db/database.js'
import type { Rpc } from './rpc.js'

/**
 * The database of a worker whose primary owns an embedded PGlite. PGlite is one PostgreSQL backend
 * inside one process: the workers cannot open it, so each query travels to the primary over IPC
 * and runs there, in arrival order (PGlite runs one statement at a time anyway). Rows come back by
 * structured clone, with their types (Date, bigint) intact.
 */
export class IpcDatabase implements Database {
  readonly kind = 'pglite'
  readonly #rpc: Rpc

  constructor(rpc: Rpc) {
    this.#rpc = rpc
  }

  query<R extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[] }> {
    return this.#rpc.request<{ rows: R[] }>('db.query', { sql, params: params === undefined ? undefined : [...params] })
  }

  exec(sql: string): Promise<void> {
    return this.#rpc.request<void>('db.exec', sql)
  }

  /** Change capture runs in the primary, next to the database; a worker listens to nothing. */
  listen(): Promise<() => Promise<void>> {
    return Promise.reject(Object.assign(new Error('LISTEN is not available through the primary'), { code: 'E_UNSUPPORTED' }))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * The primary's handlers for {@link IpcDatabase}. `db.query` is looked up at each call, so a
 * wrapper installed later (the dashboard's fault injector) sees the workers' queries too.
 */
export function databaseHandlers(db: Database): Record<string, (payload: unknown) => unknown> {
  return {
    'db.query': (payload) => {
      const { sql, params } = payload as { sql: string; params?: unknown[] }
      return db.query(sql, params)
    },
    'db.exec': (payload) => db.exec(payload as string),
  }
}
