import type { Database } from '../db/database.js'

/**
 * Counts the queries a service sends to its database, for its stats: how many reads the caches
 * saved is the number `tiercache loadgen` and `npm run bench:stack` report as queries per second.
 */
export function countQueries(db: Database): { readonly db: Pick<Database, 'query'>; count(): number } {
  let queries = 0
  return {
    db: {
      query: (sql, params) => {
        queries++
        return db.query(sql, params)
      },
    },
    count: () => queries,
  }
}
