import type { Database } from '../db/database.js'

/** What the dashboard can make the database do. */
export type DatabaseMode = 'ok' | 'slow' | 'fail'

/** Added to every query while the database is `slow`. */
export const SLOW_QUERY_MS = 250

/**
 * A fault injector around the stack's real database: it counts and times every query (the
 * dashboard's database queries/s and latency), and on demand delays each query or makes it fail,
 * so the cache's fail-safe (stale values within grace) and timeouts can be watched acting. It
 * wraps the instance's `query` in place, because the app already holds the database object;
 * `restore()` puts the original back.
 */
export class DatabaseFaults {
  mode: DatabaseMode = 'ok'
  #queries = 0
  #errors = 0
  #durations: number[] = []
  readonly #db: Database
  readonly #original: Database['query']

  constructor(db: Database) {
    this.#db = db
    const original = db.query.bind(db)
    this.#original = original
    db.query = async <R extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[] }> => {
      const started = performance.now()
      this.#queries++
      try {
        if (this.mode === 'slow') await new Promise((resolve) => setTimeout(resolve, SLOW_QUERY_MS))
        if (this.mode === 'fail') throw new Error('the database is failing (fault injected from the dashboard)')
        return await original<R>(sql, params)
      } catch (error) {
        this.#errors++
        throw error
      } finally {
        if (this.#durations.length < 100_000) this.#durations.push(performance.now() - started)
      }
    }
  }

  /** Queries and errors since the start, and the durations (ms) since the last call. */
  take(): { queries: number; errors: number; durations: number[] } {
    const durations = this.#durations
    this.#durations = []
    return { queries: this.#queries, errors: this.#errors, durations }
  }

  restore(): void {
    this.#db.query = this.#original
  }
}
