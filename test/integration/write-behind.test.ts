/**
 * Durable write-behind on real Redis and PostgreSQL: read-your-writes on every node, coalescing,
 * the flush into a real table, dead letters for a write PostgreSQL refuses (a CHECK constraint),
 * back-pressure, a refused Redis, the pinned queue entry format, close with work in flight.
 */
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import type { TierCache } from '../../src/core/cache.js'
import type { WriteBehindItem, WriteBehindOptions } from '../../src/core/write-behind-options.js'
import { freePort } from '../services/services.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'
import { createTable, freshTable, rows, upsertFlush } from '../helpers/write-behind-table.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

function pool(): pg.Pool {
  const p = new pg.Pool({ connectionString: inject('databaseUrl'), max: 4 })
  cleanups.push(() => p.end())
  return p
}

async function table(db: pg.Pool): Promise<string> {
  const name = freshTable()
  await createTable(db, name)
  cleanups.push(() => db.query(`drop table if exists ${name}`))
  return name
}

/**
 * Caches of one namespace, each with its own connections (as separate processes would have), used at
 * once. A 2 s L2 budget: a loaded test machine can miss 100 ms for real, and what a missed budget
 * does is tested on its own.
 */
function nodes(n: number, options: CacheOptions = {}): TierCache[] {
  const namespace = freshNamespace('wb')
  const caches = Array.from({ length: n }, () => createCache({ namespace, logger: false, ttl: '10m', l2: { redis: inject('redisUrl'), timeout: '2s' }, ...options }))
  for (const c of caches) cleanups.push(() => c.close())
  return caches
}

const fast: Partial<WriteBehindOptions> = { flushInterval: '20ms', retryDelay: '20ms', maxRetryDelay: '200ms' }

describe('write-behind', () => {
  it('write resolves once queued; every node reads the new value at once; the flusher writes the last value per key', async () => {
    const db = pool()
    const t = await table(db)
    const [a, b] = nodes(2)
    const batches: (readonly WriteBehindItem[])[] = []
    const flush = upsertFlush(db, t)
    // The first batch is held until every write is queued, so that later batches find several writes
    // of one key waiting whatever the machine's speed (a slow machine would otherwise flush each
    // write on its own, and coalescing would never be seen).
    let queued!: () => void
    const allQueued = new Promise<void>((resolve) => { queued = resolve })
    const writer = a!.writeBehind<{ n: number }>('orders', { ...fast, flush: async (batch) => { batches.push(batch); await allQueued; await flush(batch) } })
    const acks = []
    for (let n = 1; n <= 50; n++) acks.push(await writer.write(`order:${n % 5}`, { n }))
    queued()
    // Sequence numbers grow with queue order.
    for (let i = 1; i < acks.length; i++) expect(acks[i]!.seq).toBeGreaterThan(acks[i - 1]!.seq)
    // Read-your-writes, on this node and on another (its L1 never held the key, so it reads L2).
    expect(await a!.get('order:0')).toEqual({ n: 50 })
    expect(await b!.get('order:4')).toEqual({ n: 49 })
    await writer.drain()
    const table_ = await rows(db, t)
    expect(table_.size).toBe(5)
    for (let k = 0; k < 5; k++) {
      const last = acks.filter((ack) => ack.key === `order:${k}`).at(-1)!
      expect(table_.get(`order:${k}`)).toEqual({ value: { n: Number(last.key.slice(6)) === 0 ? 50 : 45 + k }, seq: last.seq })
    }
    // Coalesced: never two items of one key in a batch, and fewer rows written than writes.
    for (const batch of batches) expect(new Set(batch.map((i) => i.key)).size).toBe(batch.length)
    const stats = await writer.stats()
    expect(stats).toMatchObject({ written: 50, flushed: 50, pending: 0, deadLetters: 0 })
    expect(stats.flushedItems).toBeLessThan(50)
    expect(stats.lagMs?.samples).toBe(50)
    await writer.close()
  })

  it('a later write on another node wins in the cache and in the table, whatever order the updates land in', async () => {
    const db = pool()
    const t = await table(db)
    const [a, b] = nodes(2)
    const wa = a!.writeBehind('accounts', { ...fast, flush: upsertFlush(db, t) })
    const wb = b!.writeBehind('accounts', { ...fast, flush: upsertFlush(db, t) })
    const writes = []
    for (let i = 0; i < 40; i++) writes.push((i % 2 === 0 ? wa : wb).write('acct:1', { i }))
    const acks = await Promise.all(writes)
    const newest = acks.reduce((m, ack, i) => (ack.seq > acks[m]!.seq ? i : m), 0)
    await until(async () => JSON.stringify(await a!.get('acct:1')) === JSON.stringify({ i: newest }) &&
      JSON.stringify(await b!.get('acct:1')) === JSON.stringify({ i: newest }), 'both nodes to show the newest write')
    await wa.drain()
    await wb.drain()
    expect((await rows(db, t)).get('acct:1')).toEqual({ value: { i: newest }, seq: acks[newest]!.seq })
  })

  it('a write PostgreSQL refuses goes to the dead letters after maxAttempts; the others are flushed meanwhile', async () => {
    const db = pool()
    const t = await table(db)
    const [a] = nodes(1)
    const writer = a!.writeBehind<Record<string, unknown>>('poison', { ...fast, maxAttempts: 3, batchSize: 50, flush: upsertFlush(db, t) })
    for (let i = 0; i < 20; i++) await writer.write(`k${i}`, { i })
    await writer.write('bad', { poison: true })
    for (let i = 20; i < 40; i++) await writer.write(`k${i}`, { i })
    expect(await a!.get('bad')).toEqual({ poison: true })
    await writer.drain()
    const table_ = await rows(db, t)
    expect(table_.size).toBe(40)
    expect(table_.has('bad')).toBe(false)
    const dead = await writer.deadLetters()
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({ key: 'bad', value: { poison: true }, attempts: 3 })
    expect(dead[0]!.error).toMatch(/check constraint/)
    expect(await writer.stats()).toMatchObject({ deadLetters: 1, deadLettered: 1, pending: 0 })
    // The cached copy of a write that will never reach the database is withdrawn.
    expect(await a!.get('bad')).toBeUndefined()
    // Retried: it fails again and comes back; dropped: gone.
    expect(await writer.retryDeadLetters()).toBe(1)
    await writer.drain()
    expect((await writer.deadLetters()).map((d) => d.key)).toEqual(['bad'])
    expect(await writer.dropDeadLetters([dead[0]!.id, (await writer.deadLetters())[0]!.id])).toBe(1)
    expect(await writer.deadLetters()).toEqual([])
  })

  it('a poison write does not hold the others up: they reach the table while it is still being retried', async () => {
    const db = pool()
    const t = await table(db)
    const [a, b] = nodes(2)
    // All queued first, so that the first batch holds the poison write and the 40 others together.
    const producer = a!.writeBehind<Record<string, unknown>>('poison-apart', { consume: false })
    await producer.write('bad', { poison: true })
    for (let i = 0; i < 40; i++) await producer.write(`k${i}`, { i })
    // maxAttempts high: the poison write is retried for the whole test, never dead-lettered.
    const flusher = b!.writeBehind<Record<string, unknown>>('poison-apart', { ...fast, maxAttempts: 1_000, batchSize: 50, flush: upsertFlush(db, t) })
    await until(async () => (await rows(db, t)).size === 40, 'the 40 good writes to reach the table')
    expect((await rows(db, t)).has('bad')).toBe(false)
    const stats = await flusher.stats()
    expect(stats).toMatchObject({ pending: 1, deadLetters: 0, flushed: 40 })
    expect(stats.failedFlushes).toBeGreaterThan(0)
    await flusher.close()
    // The poison write stays queued after close: removed here so that nothing of this test lingers.
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    const base = `tc1:${a!.namespace}:q:{${a!.namespace}/poison-apart}:`
    await raw.del(`${base}s`, `${base}seq`, `${base}dead`)
  })

  it('a dead letter retried after the cause is fixed reaches the table and the cache', async () => {
    const db = pool()
    const t = await table(db)
    const [a] = nodes(1)
    let broken = true
    const flush = upsertFlush(db, t)
    const writer = a!.writeBehind('fixable', { ...fast, maxAttempts: 2, flush: async (batch) => {
      if (broken && batch.some((i) => i.key === 'k-bad')) throw new Error('value rejected by the schema')
      await flush(batch)
    } })
    await writer.write('k-ok', 1)
    await writer.write('k-bad', 2)
    await writer.drain()
    expect((await writer.deadLetters()).map((d) => d.key)).toEqual(['k-bad'])
    broken = false
    await writer.retryDeadLetters()
    await writer.drain()
    expect((await rows(db, t)).get('k-bad')?.value).toBe(2)
    expect(await a!.get('k-bad')).toBe(2)
  })

  it('over maxPending, write throws E_BACKPRESSURE (whenFull: throw) or waits for room (whenFull: wait)', async () => {
    const db = pool()
    const t = await table(db)
    const [a, b] = nodes(2)
    const producer = a!.writeBehind('bounded', { maxPending: 10, whenFull: 'throw', consume: false })
    for (let i = 0; i < 10; i++) await producer.write(`k${i}`, i)
    await expect(producer.write('k10', 10)).rejects.toMatchObject({ code: 'E_BACKPRESSURE', context: { pending: 10, maxPending: 10 } })
    expect(await a!.get('k10')).toBeUndefined() // refused: the cache shows nothing
    const waiting = a!.writeBehind('bounded', { maxPending: 10, whenFull: 'wait', maxWait: '30s', consume: false })
    const blocked = waiting.write('k11', 11)
    // A flusher elsewhere makes room: the waiting write goes through.
    const flusher = b!.writeBehind('bounded', { ...fast, flush: upsertFlush(db, t) })
    await expect(blocked).resolves.toMatchObject({ key: 'k11' })
    await flusher.drain()
    expect((await rows(db, t)).size).toBe(11)
    expect((await waiting.stats()).backpressure.waited).toBe(1)
    expect((await producer.stats()).backpressure.refused).toBe(1)
  })

  it('with Redis refusing connections, write rejects E_WRITE_NOT_DURABLE (not queued) and the cache is unchanged', async () => {
    const port = await freePort()
    const cache = createCache({ namespace: freshNamespace('wb'), logger: false, l2: { redis: `redis://127.0.0.1:${port}` } })
    cleanups.push(() => cache.close())
    const writer = cache.writeBehind('nowhere', { flush: () => {} })
    await expect(writer.write('k', 1)).rejects.toMatchObject({ code: 'E_WRITE_NOT_DURABLE', context: { outcome: 'not-queued', key: 'k' } })
    expect(cache.peek('k')).toBeUndefined()
    expect(await cache.get('k')).toBeUndefined()
  })

  it('refuses bad input before queueing anything', async () => {
    const [a] = nodes(1)
    expect(() => a!.writeBehind('bad name!', { flush: () => {} })).toThrow(/expected name/)
    expect(() => a!.writeBehind('q', {})).toThrow(/expected flush/)
    expect(() => a!.writeBehind('q', { flush: () => {}, maxPendng: 5 } as WriteBehindOptions)).toThrow(/unknown option maxPendng \(did you mean maxPending\?\)/)
    expect(() => a!.writeBehind('q', { flush: () => {}, maxPending: 0 })).toThrow(/expected maxPending/)
    const writer = a!.writeBehind('q', { consume: false })
    await expect(writer.write('k', undefined)).rejects.toMatchObject({ code: 'E_VALUE_UNDEFINED' })
    await expect(writer.write('', 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(await writer.stats()).toMatchObject({ pending: 0, written: 0 })
    const l1Only = createCache({ logger: false })
    cleanups.push(() => l1Only.close())
    expect(() => l1Only.writeBehind('q', { flush: () => {} })).toThrow(/write-behind needs a durable queue/)
  })

  it('stores the pinned v1 queue entry format', async () => {
    const [a] = nodes(1)
    const writer = a!.writeBehind('format', { consume: false })
    const ack = await writer.write('the-key', { x: 1 })
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    const entries = await raw.xrangeBuffer(`tc1:${a!.namespace}:q:{${a!.namespace}/format}:s`, '-', '+')
    expect(entries).toHaveLength(1)
    const fields = entries[0]![1].map((b) => b.toString())
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['v', 'k', 's', 't', 'z', 'd'])
    expect(fields[1]).toBe('1')
    expect(fields[3]).toBe('the-key')
    expect(Number(fields[5])).toBe(ack.seq)
    expect(Number(fields[7])).toBeGreaterThan(0)
    expect(fields[9]).toBe('1') // the JSON serializer's id
    expect(JSON.parse(fields[11]!)).toEqual({ x: 1 })
    // The sequence is Redis time in microseconds or the last one + 1: it grows even after a loss.
    expect(ack.seq).toBeGreaterThan(Date.now() * 1000 - 60_000_000)
    expect(await raw.get(`tc1:${a!.namespace}:q:{${a!.namespace}/format}:seq`)).toBe(String(ack.seq))
  })

  it('close with writes in flight: they finish, later writes reject E_WRITER_CLOSED, the queue keeps what was not flushed', async () => {
    const db = pool()
    const t = await table(db)
    const [a, b] = nodes(2)
    const writer = a!.writeBehind('closing', { consume: false })
    const inFlight = Array.from({ length: 20 }, (_, i) => writer.write(`k${i}`, i))
    const closed = writer.close()
    await expect(writer.write('late', 1)).rejects.toMatchObject({ code: 'E_WRITER_CLOSED' })
    const acks = await Promise.all(inFlight)
    await closed
    expect(acks).toHaveLength(20)
    // Closing the cache closes its writers too.
    const other = a!.writeBehind('closing', { consume: false })
    await a!.close()
    await expect(other.write('x', 1)).rejects.toMatchObject({ code: 'E_WRITER_CLOSED' })
    const flusher = b!.writeBehind('closing', { ...fast, flush: upsertFlush(db, t) })
    await flusher.drain()
    expect((await rows(db, t)).size).toBe(20)
  })

  it('close while a flush hangs: close returns, and another process\'s flusher takes the writes over', async () => {
    const db = pool()
    const t = await table(db)
    const [a, b] = nodes(2)
    let calls = 0
    const stuck = a!.writeBehind('handover', { ...fast, flushTimeout: '10m', flush: () => { calls++; return new Promise<void>(() => {}) } })
    await stuck.write('k1', 1)
    await stuck.write('k2', 2)
    await until(() => calls > 0, 'the flush to start (and hang)')
    await stuck.close()
    // Its heartbeat was withdrawn: the writes it held are claimed (no process died; none was lost).
    const flusher = b!.writeBehind('handover', { ...fast, flusherTimeout: '1s', flush: upsertFlush(db, t) })
    await flusher.drain()
    expect((await rows(db, t)).size).toBe(2)
    expect((await flusher.stats()).claimed).toBe(2)
  })
})
