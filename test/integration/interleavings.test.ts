/**
 * Deterministic interleavings (fast-check's scheduler) of fill / write / invalidate across two
 * cache instances sharing real Redis. fast-check decides the order of the points that matter: the
 * loader's database read, the loader's return, the writer's commit and the writer's invalidation.
 * Whatever the order, once everything settled no layer of any node may serve a value older than the
 * database (invariant 1). The caller of the fill itself may receive the old value: it asked first.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { freshNamespace } from '../helpers/namespace.js'

let a: TierCache
let b: TierCache
let cold: TierCache
let run = 0

beforeAll(async () => {
  const namespace = freshNamespace('interleave')
  const l2 = { redis: inject('redisUrl'), timeout: 1_000 }
  a = createCache({ namespace, logger: false, ttl: '10m', grace: '10m', l2 })
  b = createCache({ namespace, logger: false, ttl: '10m', l2 })
  cold = createCache({ namespace, logger: false, l1: false, l2, bus: false })
  for (const c of [a, b, cold]) await c.get('__warm__')
  for (let i = 0; i < 200 && (a.stats().coherence.fenced || b.stats().coherence.fenced); i++) await new Promise((r) => setTimeout(r, 10))
})
afterAll(async () => {
  await Promise.all([a.close(), b.close(), cold.close()])
})

interface Row { value: string; version: number }

type Invalidate = 'delete' | 'versioned delete' | 'tags' | 'write-through'

async function writeAndInvalidate(mode: Invalidate, key: string, row: Row): Promise<void> {
  if (mode === 'delete') await b.delete(key)
  else if (mode === 'versioned delete') await b.invalidate({ keys: [key], version: row.version })
  else if (mode === 'tags') await b.invalidateTags([`row:${key}`])
  else await b.set(key, row.value, { version: row.version, tags: [`row:${key}`] })
}

/** After quiescence: every layer of every node is empty or current. */
async function assertNothingStale(key: string, db: Row): Promise<void> {
  await new Promise((r) => setTimeout(r, 30)) // let the bus deliver
  const seen = { aL1: a.peek(key), bL1: b.peek(key), a: await a.get(key), b: await b.get(key), l2: await cold.get(key) }
  for (const [where, value] of Object.entries(seen)) {
    if (value !== undefined) expect(value, `${where} serves ${JSON.stringify(value)} while the database has ${db.value}`).toBe(db.value)
  }
}

const modes: Invalidate[] = ['delete', 'versioned delete', 'tags', 'write-through']

describe('fill / write / invalidate interleavings', () => {
  it('the stale-set race (a fill racing a commit and its invalidation) never leaves the old value behind', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), fc.constantFrom(...modes), fc.boolean(), async (s, mode, warm) => {
      const key = `k${++run}`
      let db: Row = { value: 'v1', version: 1 }
      if (warm) {
        // Variant: the key was cached and expires just now (the fill replaces a stale value).
        await a.set(key, 'v0', { ttl: 1, version: 0, tags: [`row:${key}`] })
        await new Promise((r) => setTimeout(r, 3))
      }
      const readRow = s.scheduleFunction(async () => ({ ...db }))
      const fill = a.getOrSet(key, async (ctx) => {
        const row = await readRow()
        ctx.setVersion(row.version)
        await s.schedule(Promise.resolve('fill returns'))
        return row.value
      }, { tags: [`row:${key}`] })
      const writer = s.scheduleSequence([
        { label: 'commit v2', builder: async () => { db = { value: 'v2', version: 2 } } },
        { label: `invalidate (${mode})`, builder: () => writeAndInvalidate(mode, key, { value: 'v2', version: 2 }) },
      ])
      await s.waitFor(Promise.all([fill, writer.task]))
      await assertNothingStale(key, db)
    }), { numRuns: 40 })
  })

  it('a tag invalidated while the fill runs: the filled entry is never fresh afterwards', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), async (s) => {
      const key = `t${++run}`
      let db: Row = { value: 'v1', version: 1 }
      const readRow = s.scheduleFunction(async () => ({ ...db }))
      const fill = a.getOrSet(key, async () => (await readRow()).value, { tags: ['catalog', `row:${key}`] })
      const writer = s.scheduleSequence([
        { label: 'commit v2', builder: async () => { db = { value: 'v2', version: 2 } } },
        { label: 'invalidate tag', builder: () => b.invalidateTags([`row:${key}`]) },
      ])
      await s.waitFor(Promise.all([fill, writer.task]))
      await assertNothingStale(key, db)
    }), { numRuns: 30 })
  })

  it('an invalidation during a soft-timeout background refresh: the late value is not kept', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), fc.constantFrom(...modes), async (s, mode) => {
      const key = `s${++run}`
      await a.getOrSet(key, () => 'v0', { ttl: 1, tags: [`row:${key}`] })
      await new Promise((r) => setTimeout(r, 3)) // now stale, within grace
      let db: Row = { value: 'v1', version: 1 }
      const readRow = s.scheduleFunction(async () => ({ ...db }))
      const answered = a.getOrSetEntry(key, async (ctx) => {
        const row = await readRow()
        ctx.setVersion(row.version)
        await s.schedule(Promise.resolve('refresh returns'))
        return row.value
      }, { softTimeout: 5, tags: [`row:${key}`] })
      const writer = s.scheduleSequence([
        { label: 'commit v2', builder: async () => { db = { value: 'v2', version: 2 } } },
        { label: `invalidate (${mode})`, builder: () => writeAndInvalidate(mode, key, { value: 'v2', version: 2 }) },
      ])
      await s.waitFor(Promise.all([answered, writer.task]))
      // Let the background load (still scheduled) run to completion.
      await s.waitIdle()
      await new Promise((r) => setTimeout(r, 20))
      await assertNothingStale(key, db)
    }), { numRuns: 30 })
  })
})
