/**
 * The database port: the few things the stack needs from PostgreSQL. Two adapters: `pg` against a
 * server (`DATABASE_URL`) and PGlite, real PostgreSQL compiled to WASM, embedded (the default when
 * no server is configured). Both speak the same SQL, so the stack does not care which it got.
 */
export interface Database {
  /** `postgres` or `pglite`. */
  readonly kind: 'postgres' | 'pglite'
  query<R extends Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[] }>
  /**
   * Runs several statements (no parameters) as one transaction: all of them, or none when one
   * fails (PostgreSQL's simple query protocol runs a multi-statement string that way).
   */
  exec(sql: string): Promise<void>
  /**
   * Calls `onNotify` for each NOTIFY on `channel` (a plain identifier) until the returned function
   * is called. A wake-up only: a notification can be lost (a dropped connection), so whoever
   * listens also polls.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

/** Opens `url` with `pg`, or an embedded PGlite when `url` is undefined. */
export async function openDatabase(url: string | undefined): Promise<Database> {
  if (url === undefined || url === '') {
    const { openPglite } = await import('./pglite-database.js')
    return openPglite()
  }
  const { openPostgres } = await import('./pg-database.js')
  return openPostgres(url)
}
