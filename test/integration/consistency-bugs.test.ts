/**
 * Coherence bugs found by the randomized multi-process run (test/consistency/), reduced to
 * deterministic two-cache reproductions on real Redis, kept as regression tests now that they are
 * fixed (set writes L1 only after L2 accepted the value; a failed L2 write becomes an invalidation
 * retried from the outbox; an outbox retry drops the keys from the writer's own L1, and L2 values of
 * keys with a pending invalidation are not trusted; a tag-invalidated entry is not served without
 * grace; a late versioned invalidation fences at the version of the newer entry it deletes).
 *
 * A and B are two nodes of one namespace. To make A's Redis step fail while Redis itself (and A's
 * bus) stays healthy, A's L2 runs on an ioredis client the test owns and disconnects: what a
 * connection reset, a `CLIENT KILL`, a timeout or an open breaker does to one node.
 */
import diagnostics from 'node:diagnostics_channel'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import type { CacheOptions } from '../../src/compose/options.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

function cache(options: CacheOptions): TierCache {
  const c = createCache({ logger: false, ttl: '10m', ...options })
  cleanups.push(() => c.close())
  return c
}


/** Two nodes on the machine's Redis; A's L2 connection can be dropped while its bus stays up. */
async function twoNodes(): Promise<{ a: TierCache; b: TierCache; l2: Redis; dropL2: () => Promise<void>; ns: string }> {
  const url = inject('redisUrl')
  const ns = freshNamespace('bug')
  const l2 = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  l2.on('error', () => {})
  cleanups.push(() => { l2.disconnect() })
  const bus = new RedisStreamBus({ redis: url, namespace: ns })
  cleanups.push(() => bus.close())
  const a = cache({ namespace: ns, l2: { client: l2 }, bus })
  const b = cache({ namespace: ns, l2: { redis: url } })
  await until(() => !a.stats().coherence.fenced && !b.stats().coherence.fenced, 'both buses')
  return {
    a, b, l2, ns,
    dropL2: async () => {
      const ended = new Promise((r) => l2.once('end', r))
      l2.disconnect()
      await ended
    },
  }
}

/** Resolves when this process applies another node's invalidation of `key`. */
function invalidationOf(key: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: unknown): void => {
      if ((message as { keys?: string[] }).keys?.includes(key) === true) {
        diagnostics.unsubscribe('tiercache:invalidated', listener)
        resolve()
      }
    }
    diagnostics.subscribe('tiercache:invalidated', listener)
  })
}

async function l2Value(ns: string, key: string): Promise<unknown> {
  const reader = cache({ namespace: ns, l1: false, l2: { redis: inject('redisUrl') }, bus: false })
  return reader.get(key)
}

describe('coherence bugs found by the consistency run (regressions)', () => {
  // Bug 1. Writers A and B commit v2 then v3 (row lock order); B's write-through reaches the caches
  // first, A's (older) second. Redis rejects A's v2 (SET_ENTRY: a newer version is stored), but
  // `set` wrote A's L1 before asking Redis, and B's bus message already dropped A's L1 copy, so the
  // `held.version > version` guard has nothing to compare with: A serves v2 until its L1 TTL cap.
  it('bug 1: a write-through of an older version after a newer write-through does not stay in the writer\'s L1', async () => {
    const { a, b, ns } = await twoNodes()
    const heard = invalidationOf('k')
    await b.set('k', { v: 3 }, { version: 3 })
    await heard
    await a.set('k', { v: 2 }, { version: 2 })
    expect(await l2Value(ns, 'k')).toEqual({ v: 3 })
    expect(await b.get('k')).toEqual({ v: 3 })
    expect(a.peek('k')).not.toEqual({ v: 2 })
  })

  // Bug 1, with B invalidating v3 instead of writing it through: the tombstone rejects A's v2 in
  // Redis, A's L1 keeps it.
  it('bug 1: a write-through of an older version after a newer versioned invalidation does not stay in the writer\'s L1', async () => {
    const { a, b, ns } = await twoNodes()
    const heard = invalidationOf('k')
    await b.invalidate({ keys: ['k'], version: 3 })
    await heard
    await a.set('k', { v: 2 }, { version: 2 })
    expect(await l2Value(ns, 'k')).toBeUndefined()
    expect(a.peek('k')).toBeUndefined()
  })

  // Bug 2. `set` while A's Redis step fails (connection reset, timeout, open breaker): the L2 write
  // is dropped and never retried (#writeShared ignores it; the outbox only carries the bus message),
  // but the bus message goes out, so every other node drops its L1 and reads the OLD value back
  // from L2, for the whole TTL. Nothing is pending anywhere: it never heals.
  it('bug 2: a write-through whose Redis write failed does not leave the old value in L2', async () => {
    const { a, b, ns, l2, dropL2 } = await twoNodes()
    await b.getOrSet('k', (ctx) => { ctx.setVersion(1); return { v: 1 } })
    await dropL2()
    await a.set('k', { v: 2 }, { version: 2 })
    await l2.connect()
    await until(() => a.stats().coherence.pendingInvalidations === 0, 'an empty outbox')
    await new Promise((r) => setTimeout(r, 200))
    const inL2 = await l2Value(ns, 'k')
    expect(inL2 === undefined || (inL2 as { v: number }).v === 2).toBe(true)
    expect(await b.getOrSet('k', () => ({ v: 2 }))).toEqual({ v: 2 })
  })

  // Bug 3. A commits v2 and invalidates: its L1 copy is dropped, the Redis step fails, the
  // invalidation waits in the outbox. Before the retry, a read on A finds v1 still in L2 and copies
  // it into A's L1 (the generation stamp was taken after the drop). The retry then deletes L2 and
  // republishes, but A skips its own message (origin === nodeId) and never drops L1 again: A serves
  // v1 for good while L2 and every other node have moved on.
  it('bug 3: an invalidation retried from the outbox does not leave the old value in the writer\'s L1', async () => {
    const { a, b, l2, dropL2 } = await twoNodes()
    let db = 1
    const loader = (ctx: { setVersion(v: number): void }): { v: number } => { ctx.setVersion(db); return { v: db } }
    await b.getOrSet('k', loader)
    await dropL2()
    db = 2
    await a.invalidate({ keys: ['k'], version: 2 })
    await l2.connect()
    await a.getOrSet('k', loader) // may serve v1 while the invalidation waits: bounded, allowed
    await until(() => a.stats().coherence.pendingInvalidations === 0, 'an empty outbox')
    await new Promise((r) => setTimeout(r, 200))
    expect(await b.getOrSet('k', loader)).toEqual({ v: 2 })
    expect(a.peek('k')).not.toEqual({ v: 1 })
  })

  // Bug 4 (was bounded, not for good). After invalidateTags, an entry carrying the old tag version
  // is still unexpired by time, so a miss kept it as a stale candidate even with grace 0; when
  // another process held the fill lease, it was served ('lease-held') until the holder filled, up to
  // lease.wait. Fixed: a time-fresh but invalidated entry is a stale candidate only if it has grace.
  it('bug 4: a tag-invalidated value is not served (grace 0) while another process loads', async () => {
    const ns = freshNamespace('bug')
    const a = cache({ namespace: ns, l2: { redis: inject('redisUrl') } })
    const b = cache({ namespace: ns, l2: { redis: inject('redisUrl') } })
    await until(() => !a.stats().coherence.fenced && !b.stats().coherence.fenced, 'both buses')
    const opts = { tags: ['item:1'] }
    let db = 1
    await a.getOrSet('k', () => ({ v: db }), opts)
    await b.getOrSet('k', () => ({ v: db }), opts)
    db = 2
    const heard = new Promise<void>((resolve) => {
      const listener = (message: unknown): void => {
        if ((message as { tags?: string[] }).tags?.includes('item:1') === true) {
          diagnostics.unsubscribe('tiercache:invalidated', listener)
          resolve()
        }
      }
      diagnostics.subscribe('tiercache:invalidated', listener)
    })
    await b.invalidateTags(['item:1'])
    await heard
    let release: () => void = () => {}
    const loading = new Promise<void>((resolve) => { release = resolve })
    let started: () => void = () => {}
    const loaderStarted = new Promise<void>((resolve) => { started = resolve })
    const slow = a.getOrSet('k', async () => { started(); await loading; return { v: db } }, opts)
    await loaderStarted
    // A's load finishes a little later: B must wait for it (or load itself), never answer v1.
    const timer = setTimeout(release, 100)
    try {
      expect(await b.getOrSet('k', () => ({ v: db }), opts)).toEqual({ v: 2 })
    } finally {
      clearTimeout(timer)
      release()
      await slow
    }
  })

  // Bug 5 (seed 1798193051 of consistency.test.ts): C's versioned invalidation of v38, delayed (an
  // outbox retry after its connection was killed), reaches Redis after B wrote v40 through, and
  // deletes the v40 entry; A's write-through of v39 (committed before v40, its answer late) then
  // finds no newer entry and a tombstone of 38, and lands: L2 serves v39 until its TTL, every node
  // reads it back. An invalidation that deletes a newer entry must fence at that entry's version.
  it('bug 5: a late invalidation of an older version does not let an older write-through replace the newer entry it deleted', async () => {
    const { a, b, ns } = await twoNodes()
    await b.set('k', { v: 40 }, { version: 40 })
    await b.invalidate({ keys: ['k'], version: 38 })
    await a.set('k', { v: 39 }, { version: 39 })
    expect(await l2Value(ns, 'k')).not.toEqual({ v: 39 })
    expect(await b.getOrSet('k', (ctx) => { ctx.setVersion(40); return { v: 40 } })).toEqual({ v: 40 })
  })
})
