import { PGlite } from '@electric-sql/pglite'
import type { Database } from './database.js'

/** An embedded PostgreSQL (PGlite, in memory unless `dataDir` is given). */
export async function openPglite(dataDir?: string): Promise<Database> {
  const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir)
  await db.waitReady
  return {
    kind: 'pglite',
    async query<R extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
      const result = await db.query<R>(sql, params as unknown[])
      return { rows: result.rows }
    },
    async exec(sql: string) {
      await db.exec(sql)
    },
    async listen(channel: string, onNotify: () => void) {
      const unlisten = await db.listen(channel, () => onNotify())
      return async () => { if (!db.closed) await unlisten() }
    },
    close: () => db.close(),
  }
}
