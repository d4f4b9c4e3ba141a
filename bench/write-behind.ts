/**
 * Durable write-behind against its peer: the same writes as one `INSERT ... ON CONFLICT DO UPDATE`
 * per write on the same PostgreSQL (each its own transaction, as an application writing through
 * would do), measured in the same run, rounds interleaved (direct, write-behind, direct, ...).
 *
 *   npm run bench:write-behind -- [--rounds 5] [--writes 40000] [--direct-writes 4000] [--concurrency 256] [--per-key 100,1]
 *     [--redis redis://127.0.0.1:6379] [--database postgres://postgres@127.0.0.1:5432/test]
 *
 * For each workload (`--per-key`: writes per key; 100 means 100 writes land on each key, the
 * coalescing the flushers can exploit), it prints per round and as median [min-max]:
 * - acknowledged writes/s: `write()` resolved (durable in the Redis Stream, shown by the cache),
 *   `--concurrency` writes in flight; the flusher runs in the same process meanwhile;
 * - the direct peer's writes/s at the same concurrency (a pool of 16 connections);
 * - flush lag p50/p99 (write() to the end of the flush that carried it) and the measured
 *   coalescing (queued writes per row written);
 * - lost writes: after the queue drained, every key's row must hold its last acknowledged write.
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createCache } from '../src/index.js'
import type { WriteBehindItem } from '../src/index.js'
import { median } from './lib/harness.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    writes: { type: 'string', default: '40000' },
    'direct-writes': { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '256' },
    'per-key': { type: 'string', default: '100,1' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    database: { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const rounds = Number(values.rounds)
const writes = Number(values.writes)
const directWrites = Number(values['direct-writes'])
const concurrency = Number(values.concurrency)
const perKeys = values['per-key'].split(',').map(Number)

const db = new pg.Pool({ connectionString: values.database, max: 16 })
const table = `bench_wb_${process.pid}`
await db.query(`create table ${table} (key text primary key, value jsonb not null, seq bigint not null)`)

/** The flush of the docs: one statement per batch; a row only moves forward. */
async function flush(batch: readonly WriteBehindItem[]): Promise<void> {
  await db.query(`insert into ${table} as t (key, value, seq)
    select k, v::jsonb, s from unnest($1::text[], $2::text[], $3::bigint[]) as u(k, v, s)
    on conflict (key) do update set value = excluded.value, seq = excluded.seq where t.seq < excluded.seq`,
  [batch.map((i) => i.key), batch.map((i) => JSON.stringify(i.value)), batch.map((i) => i.seq)])
}

/** Runs `total` writes with `concurrency` in flight; resolves to writes/s. */
async function drive(total: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const start = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) await write(next++)
  }))
  return total / (Number(process.hrtime.bigint() - start) / 1e9)
}

interface Row { direct: number; behind: number; ratio: number; lagP50: number; lagP99: number; coalescing: number; lost: number }

const cache = createCache({ namespace: `bench-wb-${process.pid}`, logger: false, ttl: '10m', l2: { redis: values.redis, timeout: '2s' } })
const results = new Map<number, Row[]>()
try {
  for (const perKey of perKeys) {
    const keys = Math.max(1, Math.round(writes / perKey))
    const directKeys = Math.max(1, Math.round(directWrites / perKey))
    const rows: Row[] = []
    for (let round = -1; round < rounds; round++) {
      const tag = `${perKey}-${round}`
      // The peer: one upsert (one transaction) per write.
      const direct = await drive(directWrites, (i) => db.query(
        `insert into ${table} (key, value, seq) values ($1, $2, $3) on conflict (key) do update set value = excluded.value, seq = excluded.seq`,
        [`d${tag}:${i % directKeys}`, JSON.stringify({ n: i }), i]))
      // Write-behind, a fresh queue per round so each round's lag and coalescing are its own.
      const writer = cache.writeBehind<{ n: number }>(`q${tag}`.replace('-', 'm'), { flush, batchSize: 10_000, flushInterval: '100ms', maxPending: 1_000_000 })
      const last = new Map<string, number>()
      const behind = await drive(writes, async (i) => {
        const key = `w${tag}:${i % keys}`
        const ack = await writer.write(key, { n: i })
        if ((last.get(key) ?? -1) < ack.seq) last.set(key, ack.seq)
      })
      await writer.drain()
      const stats = await writer.stats()
      await writer.close()
      const { rows: found } = await db.query<{ key: string; seq: string }>(`select key, seq from ${table} where key like $1`, [`w${tag}:%`])
      const bySeq = new Map(found.map((r) => [r.key, Number(r.seq)]))
      let lost = 0
      for (const [key, seq] of last) if (bySeq.get(key) !== seq) lost++
      const row = { direct, behind, ratio: behind / direct, lagP50: stats.lagMs?.p50 ?? 0, lagP99: stats.lagMs?.p99 ?? 0, coalescing: stats.coalescing, lost }
      if (round >= 0) rows.push(row) // round -1 warms up both
      console.log(`${perKey}:1 round ${round < 0 ? 'warm-up' : round + 1}: direct ${Math.round(direct)}/s, write-behind ${Math.round(behind)}/s ` +
        `(${row.ratio.toFixed(1)}x), flush lag p50 ${row.lagP50} ms p99 ${row.lagP99} ms, coalescing ${row.coalescing.toFixed(1)}:1, lost ${lost}`)
    }
    results.set(perKey, rows)
  }
} finally {
  await cache.close()
  await db.query(`drop table if exists ${table}`)
  await db.end()
}

const spread = (xs: number[], digits = 0): string => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}]`
console.log(`\nwrites per round: ${writes} write-behind, ${directWrites} direct; ${concurrency} in flight; ${rounds} rounds; median [min-max]`)
console.log('| writes per key | direct upsert writes/s | write-behind acknowledged writes/s | ratio | flush lag p50 ms | flush lag p99 ms | coalescing | lost |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
for (const [perKey, rows] of results) {
  console.log(`| ${perKey}:1 | ${spread(rows.map((r) => r.direct))} | ${spread(rows.map((r) => r.behind))} | ${spread(rows.map((r) => r.ratio), 1)}x | ` +
    `${spread(rows.map((r) => r.lagP50))} | ${spread(rows.map((r) => r.lagP99))} | ${spread(rows.map((r) => r.coalescing), 1)}:1 | ${rows.reduce((n, r) => n + r.lost, 0)} |`)
}
