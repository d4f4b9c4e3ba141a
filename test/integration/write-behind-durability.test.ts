/**
 * Invariant 5, nothing acknowledged is lost, with real processes, a real PostgreSQL and real Redis:
 * - a writing process killed with SIGKILL at random moments, 20 times, while other processes keep
 *   flushing: every acknowledged write is in the table (the last acknowledged value per key, or a
 *   later write that was queued but not yet acknowledged when the process died) and no row ever
 *   went back;
 * - PostgreSQL refusing connections for a while: writes queue, nothing is dead-lettered, and
 *   everything drains once it is back;
 * - Redis itself killed and restarted: with appendonly (fsync always) the queue survives; without
 *   persistence it is lost, and the flusher says so.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import { startRedisServer } from '../services/services.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'
import { createTable, freshTable, rows, upsertFlush } from '../helpers/write-behind-table.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface Worker {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  readonly exited: Promise<void>
  isReady(): boolean
}

type Value = { tag: string; n: number }

/** Everything the writers said, across incarnations. */
class Ledger {
  readonly intents = new Map<string, Value[]>()
  readonly acks = new Map<string, { value: Value; seq: number }>()
  acked = 0

  onLine(line: { i?: [string, Value]; a?: [string, Value, number] }): void {
    if (line.i !== undefined) {
      const [key, value] = line.i
      const list = this.intents.get(key)
      if (list === undefined) this.intents.set(key, [value])
      else list.push(value)
    }
    if (line.a !== undefined) {
      const [key, value, seq] = line.a
      this.acked++
      const last = this.acks.get(key)
      if (last === undefined || seq > last.seq) this.acks.set(key, { value, seq })
    }
  }
}

function startWorker(args: string[], ledger: Ledger | undefined): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/write-behind-worker.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let onReady!: () => void
  let isReady = false
  const ready = new Promise<void>((resolve) => { onReady = () => { isReady = true; resolve() } })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (!text.startsWith('{')) return
    const line = JSON.parse(text) as { ready?: number; i?: [string, Value]; a?: [string, Value, number] }
    if (line.ready !== undefined) onReady()
    ledger?.onLine(line)
  })
  return { child, ready, exited, isReady: () => isReady }
}

describe('write-behind durability', () => {
  it('a writer killed with SIGKILL 20 times while others flush: every acknowledged write is in the table, no row went back', async () => {
    const redisUrl = inject('redisUrl')
    const databaseUrl = inject('databaseUrl')
    const namespace = freshNamespace('wbkill')
    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 })
    const table = freshTable('wbkill')
    await createTable(db, table)
    // Every update of a row is recorded with the sequence it replaced: a row that went back shows up here.
    await db.query(`create table ${table}_history (key text, old_seq bigint, new_seq bigint)`)
    await db.query(`create function ${table}_log() returns trigger language plpgsql as $$
      begin insert into ${table}_history values (new.key, old.seq, new.seq); return new; end $$`)
    await db.query(`create trigger ${table}_log before update on ${table} for each row execute function ${table}_log()`)
    const ledger = new Ledger()
    const workers: Worker[] = []
    try {
      const base = [redisUrl, databaseUrl, namespace, table]
      for (let i = 0; i < 2; i++) workers.push(startWorker([...base, 'flusher', '20', `flusher${i}`], undefined))
      await Promise.all(workers.map((w) => w.ready))
      let kills = 0
      let killedBeforeReady = 0
      for (let round = 0; round < 20; round++) {
        const worker = startWorker([...base, 'writer', '20', `w${round}`], ledger)
        workers.push(worker)
        // A random moment: one kill in five may land while the process is still starting.
        if (Math.random() < 0.2) {
          await Promise.race([worker.ready, new Promise((r) => setTimeout(r, Math.random() * 800))])
        } else {
          await worker.ready
          await new Promise((r) => setTimeout(r, 30 + Math.random() * 400))
        }
        if (worker.child.exitCode === null) {
          if (!worker.isReady()) killedBeforeReady++
          worker.child.kill('SIGKILL')
          kills++
        }
        await worker.exited
      }
      // The flushers claim what the dead writers held, and flush the rest.
      const observer = createCache({ namespace, logger: false, l2: { redis: redisUrl } })
      cleanups.push(() => observer.close())
      const probe = observer.writeBehind('kill-test', { consume: false })
      await probe.drain()
      await until(async () => (await probe.stats()).pending === 0, 'the queue to be empty', 30_000)
      const table_ = await rows(db, table)
      let found = 0
      const missing: string[] = []
      for (const [key, last] of ledger.acks) {
        const row = table_.get(key)
        if (row === undefined || row.seq < last.seq) {
          missing.push(key)
          continue
        }
        if (row.seq === last.seq) {
          expect(row.value, key).toEqual(last.value)
        } else {
          // A later write, queued before its process died but never acknowledged: it must be one
          // that was attempted, and not an acknowledged one (those have known, smaller sequences).
          const attempted = ledger.intents.get(key) ?? []
          const value = row.value as Value
          expect(attempted.some((v) => v.tag === value.tag && v.n === value.n), `${key}: ${JSON.stringify(value)} was never written`).toBe(true)
        }
        found++
      }
      const { rows: [history] } = await db.query<{ updates: string; backwards: string }>(
        `select count(*) as updates, count(*) filter (where new_seq < old_seq) as backwards from ${table}_history`)
      const deadLetters = (await probe.stats()).deadLetters
      console.log(`[write-behind kill test] kills=${kills} (while starting: ${killedBeforeReady}) acknowledged writes=${ledger.acked} ` +
        `keys=${ledger.acks.size} keys with the last acknowledged value or later=${found} missing=${missing.length} ` +
        `row updates=${history?.updates} went back=${history?.backwards} dead letters=${deadLetters}`)
      expect(kills).toBe(20)
      expect(ledger.acked).toBeGreaterThan(100)
      expect(missing).toEqual([])
      expect(Number(history?.backwards)).toBe(0)
      expect(deadLetters).toBe(0)
    } finally {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
      await Promise.all(workers.map((w) => w.exited))
      await db.query(`drop table if exists ${table}; drop table if exists ${table}_history; drop function if exists ${table}_log`)
      await db.end()
    }
  }, 240_000)

  it('PostgreSQL refusing connections for a while: writes queue, nothing goes to the dead letters, all of it drains once it is back', async () => {
    const admin = new pg.Pool({ connectionString: inject('databaseUrl'), max: 1 })
    cleanups.push(() => admin.end())
    const table = freshTable()
    await createTable(admin, table)
    const role = `wbrole_${randomBytes(4).toString('hex')}`
    await admin.query(`create role ${role} login`)
    await admin.query(`grant all on ${table} to ${role}`)
    cleanups.push(async () => {
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`)
      await admin.query(`drop table if exists ${table}`)
      await admin.query(`drop role if exists ${role}`)
    })
    const url = new URL(inject('databaseUrl'))
    url.username = role
    url.password = ''
    const db = new pg.Pool({ connectionString: url.toString(), max: 2, connectionTimeoutMillis: 2_000 })
    db.on('error', () => {}) // idle clients terminated below
    cleanups.push(() => db.end())
    const cache = createCache({ namespace: freshNamespace('wbpg'), logger: false, l2: { redis: inject('redisUrl') } })
    cleanups.push(() => cache.close())
    const writer = cache.writeBehind('outage', { flush: upsertFlush(db, table), flushInterval: '10ms', retryDelay: '20ms', maxRetryDelay: '200ms', maxAttempts: 2 })
    for (let i = 0; i < 50; i++) await writer.write(`k${i % 25}`, { i })
    await writer.drain()
    expect((await rows(admin, table)).size).toBe(25)
    // PostgreSQL goes away for this role: connections refused, open ones cut.
    await admin.query(`alter role ${role} connection limit 0`)
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`)
    for (let i = 50; i < 250; i++) await writer.write(`k${i % 50}`, { i })
    await until(async () => (await writer.stats()).failedFlushes >= 10, 'flushes to keep failing for a while')
    const during = await writer.stats()
    expect(during.pending).toBeGreaterThan(0)
    expect(during.deadLetters).toBe(0)
    // Back.
    await admin.query(`alter role ${role} connection limit -1`)
    await writer.drain()
    const after = await writer.stats()
    expect(after).toMatchObject({ pending: 0, deadLetters: 0, deadLettered: 0 })
    const table_ = await rows(admin, table)
    expect(table_.size).toBe(50)
    for (let k = 0; k < 50; k++) expect(table_.get(`k${k}`)?.value, `k${k}`).toEqual({ i: 200 + k })
  })

  for (const persistence of ['aof', 'none'] as const) {
    const title = persistence === 'aof'
      ? 'Redis killed and restarted with appendonly yes (fsync always): every acknowledged write is still queued and reaches the table'
      : 'Redis killed and restarted without persistence: the queue is lost, and the flusher reports it'
    it(title, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tiercache-aof-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const args = persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []
      let redis = await startRedisServer({ dir, args })
      cleanups.push(() => redis.stop())
      const db = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 })
      cleanups.push(() => db.end())
      const table = freshTable()
      await createTable(db, table)
      cleanups.push(() => db.query(`drop table if exists ${table}`))
      const namespace = freshNamespace('wbaof')
      // The flusher is in place (it has seen the queue) but the database write is held back, so the
      // writes are acknowledged and still queued when Redis dies.
      let open!: () => void
      const held = new Promise<void>((resolve) => { open = resolve })
      const flusherCache = createCache({ namespace, logger: false, l2: { redis: redis.url } })
      cleanups.push(() => flusherCache.close())
      const flush = upsertFlush(db, table)
      const flusher = flusherCache.writeBehind('durable', { flushInterval: '10ms', retryDelay: '20ms', maxRetryDelay: '200ms', flush: async (batch) => {
        await held
        await flush(batch)
      } })
      const producerCache = createCache({ namespace, logger: false, l2: { redis: redis.url } })
      cleanups.push(() => producerCache.close())
      const producer = producerCache.writeBehind('durable', { consume: false })
      for (let i = 0; i < 100; i++) await producer.write(`k${i}`, { i })
      const port = redis.port
      await redis.stop()
      redis = await startRedisServer({ port, dir, args })
      open()
      if (persistence === 'aof') {
        await until(async () => (await rows(db, table)).size === 100, 'every acknowledged write to reach the table', 30_000)
        await until(async () => (await flusher.stats()).pending === 0, 'the queue to be empty')
        expect((await flusher.stats()).queueLost).toBe(0)
      } else {
        await until(async () => (await flusher.stats()).queueLost > 0, 'the flusher to report the lost queue', 30_000)
        // What the flusher had taken before Redis died is flushed; the rest was lost with Redis.
        expect((await rows(db, table)).size).toBeLessThan(100)
      }
    })
  }
})
