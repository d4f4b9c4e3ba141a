import type { Database } from '../db/database.js'

/**
 * Counts the queries a service sends to its database, for its stats: `queries` all of them,
 * `reads` the `select`s (what caching can save; a write is a statement whatever the caches do).
 * `tiercache loadgen` and `npm run bench:stack` report them per second.
 */
export function countQueries(db: Database): { readonly db: Pick<Database, 'query'>; counts(): { queries: number; reads: number } } {
  let queries = 0
  let reads = 0
  return {
    db: {
      query: (sql, params) => {
        queries++
        if (/^\s*select\b/i.test(sql)) reads++
        return db.query(sql, params)
      },
    },
    counts: () => ({ queries, reads }),
  }
}
