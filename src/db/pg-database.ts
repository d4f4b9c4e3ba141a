import pg from 'pg'
import type { Database } from './database.js'

/** A PostgreSQL server through a `pg` pool. */
export async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  // An idle connection the server ends (a restart, a failover, pg_terminate_backend) is reported
  // as an 'error' event on the pool, which would end the process unheard. The pool has already
  // dropped that connection, and the next query opens a new one: nothing else is to be done.
  pool.on('error', () => {})
  const client = await pool.connect() // fail now, clearly, if the server is not there
  client.release()
  return {
    kind: 'postgres',
    async query<R extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
      const result = await pool.query<R>(sql, params as unknown[])
      return { rows: result.rows }
    },
    async exec(sql: string) {
      await pool.query(sql)
    },
    async listen(channel: string, onNotify: () => void) {
      // LISTEN belongs to a session: a connection of its own, outside the pool.
      const client = new pg.Client({ connectionString: url })
      client.on('error', () => {}) // a lost wake-up connection costs latency only: the listener polls
      client.on('notification', () => onNotify())
      await client.connect()
      await client.query(`listen "${channel}"`)
      return () => client.end().catch(() => {})
    },
    close: () => pool.end(),
  }
}
