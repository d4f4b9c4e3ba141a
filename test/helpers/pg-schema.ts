import pg from 'pg'
import { freshNamespace } from './namespace.js'

/**
 * A PostgreSQL schema of its own on the test server (drop it after), and a URL whose sessions
 * use it (`search_path` in the connection's options), so tests that create the same tables never
 * meet.
 */
export async function freshSchema(base: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = freshNamespace('cdc').replaceAll('-', '_')
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`create schema ${name}`)
  await admin.end()
  const url = new URL(base)
  url.searchParams.set('options', `-c search_path=${name}`)
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: base })
      await c.connect()
      await c.query(`drop schema ${name} cascade`)
      await c.end()
    },
  }
}
