import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import type { WriteBehindItem } from '../../src/core/write-behind-options.js'

/** A fresh table name (tests share one database). */
export function freshTable(prefix = 'wb'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`
}

/**
 * The write-behind target table of the docs: one row per key, with the sequence number of the
 * write it holds. A `check` keeps values marked `poison` out (a constraint a real schema would have).
 */
export async function createTable(db: pg.Pool | pg.Client, table: string): Promise<void> {
  await db.query(`create table ${table} (
    key text primary key,
    value jsonb not null check (value->>'poison' is null),
    seq bigint not null,
    updated_at timestamptz not null default now())`)
}

/**
 * The flush of the docs: one statement per batch, and a row only moves forward. `where t.seq <
 * excluded.seq` makes a replay (a batch flushed again after a crash) and an older write flushed
 * late by another process no-ops.
 */
export function upsertFlush(db: pg.Pool, table: string): (batch: readonly WriteBehindItem[]) => Promise<void> {
  return async (batch) => {
    await db.query(`insert into ${table} as t (key, value, seq)
      select k, v::jsonb, s from unnest($1::text[], $2::text[], $3::bigint[]) as u(k, v, s)
      on conflict (key) do update set value = excluded.value, seq = excluded.seq, updated_at = now()
      where t.seq < excluded.seq`,
    [batch.map((i) => i.key), batch.map((i) => JSON.stringify(i.value)), batch.map((i) => i.seq)])
  }
}

/** Every row, by key. */
export async function rows(db: pg.Pool | pg.Client, table: string): Promise<Map<string, { value: unknown; seq: number }>> {
  const { rows: all } = await db.query<{ key: string; value: unknown; seq: string }>(`select key, value, seq from ${table}`)
  return new Map(all.map((r) => [r.key, { value: r.value, seq: Number(r.seq) }]))
}
