/**
 * The PostgreSQL adapter when the server ends its idle connections (a restart, a failover, an
 * administrator's pg_terminate_backend): the process goes on and queries work again.
 *
 * The query issued right after the termination may still be handed the dead connection: the pool
 * learns that the server ended it only when the socket's close event is processed, which can come
 * after the next query was written to it. That query then fails with a connection error (it cannot
 * be retried blindly: a statement whose connection drops may or may not have run), and the pool has
 * dropped the connection by then. What must hold: nothing crashes, at most that one query fails,
 * with a connection error and not a wrong answer, and the next one is answered.
 */
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { openPostgres } from '../../src/db/pg-database.js'

describe('PostgreSQL adapter', () => {
  it('survives the server terminating its idle connections, and queries again', async () => {
    const db = await openPostgres(inject('databaseUrl'))
    const admin = new pg.Client({ connectionString: inject('databaseUrl') })
    await admin.connect()
    try {
      const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid')
      const pid = rows[0]!.pid
      // The pooled connection is idle now; the server ends it.
      const ended = await admin.query<{ ok: boolean }>('select pg_terminate_backend($1) as ok', [pid])
      expect(ended.rows[0]!.ok).toBe(true)
      // Wait until the server has really gone from that session: its pid leaves pg_stat_activity.
      for (;;) {
        const left = await admin.query('select 1 from pg_stat_activity where pid = $1', [pid])
        if (left.rowCount === 0) break
      }
      const first = await db.query<{ n: number }>('select 41 + 1 as n').then(
        (result) => ({ n: result.rows[0]!.n }),
        (error: unknown) => ({ error: error as Error }),
      )
      if ('error' in first) expect(first.error.message).toMatch(/terminat|connection|ECONNRESET|EPIPE/i)
      else expect(first.n).toBe(42)
      const again = await db.query<{ n: number; pid: number }>('select 41 + 1 as n, pg_backend_pid() as pid')
      expect(again.rows[0]!.n).toBe(42)
      expect(again.rows[0]!.pid).not.toBe(pid)
    } finally {
      await admin.end()
      await db.close()
    }
  })
})
