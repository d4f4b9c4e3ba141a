import type { Database } from '../db/database.js'

/**
 * Counts the queries a service sends to its database, for its stats: `queries` all of them,
 * `reads` the `select`s (what caching can save; a write is a statement whatever the caches do).
 * `tiercache loadgen` and `npm run bench:stack` report them per second.
 */
export interface QueryCounts {
  readonly queries: number
  readonly reads: number
}

/** A database whose queries are counted: use `db` in its place. */
export interface CountedDatabase {
  readonly db: Database
  counts(): QueryCounts
}

export function countQueries(db: Database): CountedDatabase {
  let queries = 0
  let reads = 0
  return {
    db: {
      kind: db.kind,
      exec: (sql) => db.exec(sql),
      listen: (channel, onNotify) => db.listen(channel, onNotify),
      close: () => db.close(),
      query: (sql, params) => {
        queries++
        if (/^\s*select\b/i.test(sql)) reads++
        return db.query(sql, params)
      },
    },
    counts: () => ({ queries, reads }),
  }
}
