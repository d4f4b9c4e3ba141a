/**
 * The Redis Streams bus against real Redis: order, the pinned wire format, a killed follower that
 * catches up without a gap, and the cases that must report a gap (restart, trim, unknown format).
 */
import { Redis } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import type { BusListener, DeliveredMessage } from '../../src/ports/bus.js'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { freshNamespace } from '../helpers/namespace.js'
import { startRedisServer } from '../services/services.js'
import { until } from '../helpers/until.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})


function recorder(): BusListener & { messages: DeliveredMessage[]; gaps: string[]; states: string[] } {
  const r = {
    messages: [] as DeliveredMessage[],
    gaps: [] as string[],
    states: [] as string[],
    onMessage: (m: DeliveredMessage) => { r.messages.push(m) },
    onGap: (reason: string) => { r.gaps.push(reason) },
    onState: (s: string) => { r.states.push(s) },
  }
  return r
}

/** A private redis-server with a follower on `ns` already synced, and an admin connection to it. */
async function privateFollower(ns: string): Promise<{ url: string; follower: RedisStreamBus; seen: ReturnType<typeof recorder>; admin: Redis }> {
  // Private: CLIENT KILL must not hit the followers of tests running beside this one.
  const server = await startRedisServer()
  cleanups.push(() => server.stop())
  const follower = bus(server.url, ns)
  const seen = recorder()
  follower.subscribe(seen)
  await follower.ready()
  const admin = new Redis(server.url)
  cleanups.push(() => admin.quit())
  return { url: server.url, follower, seen, admin }
}

/** Ids of the connections blocked in XREAD (the followers'). */
async function followerIds(admin: Redis): Promise<string[]> {
  const clients = String(await admin.call('CLIENT', 'LIST')).trim().split('\n')
  return clients.filter((line) => / cmd=xread/.test(line)).map((line) => /id=(\d+)/.exec(line)![1]!)
}

function bus(url: string, namespace: string, extra: Partial<ConstructorParameters<typeof RedisStreamBus>[0]> = {}): RedisStreamBus {
  const b = new RedisStreamBus({ redis: url, namespace, blockMs: 200, ...extra })
  cleanups.push(() => b.close())
  return b
}

describe('Redis Streams bus', () => {
  it('delivers every message, in order, to every follower, with tag versions bumped atomically', async () => {
    const ns = freshNamespace()
    const url = inject('redisUrl')
    const publisher = bus(url, ns)
    const follower = bus(url, ns)
    const seen = recorder()
    follower.subscribe(seen)
    await follower.ready()
    const first = await publisher.publish({ keys: ['a'], origin: 'p', at: 1 })
    const second = await publisher.publish({ tags: ['t1', 't2'], origin: 'p', at: 2 })
    const third = await publisher.publish({ tags: ['t1'], origin: 'p', at: 3 })
    expect(second.tagVersions).toHaveLength(2)
    expect(third.tagVersions![0]).toBeGreaterThan(second.tagVersions![0]!)
    await until(() => seen.messages.length === 3, 'three messages')
    expect(seen.messages.map((m) => m.id)).toEqual([first.id, second.id, third.id])
    expect(seen.messages[0]).toMatchObject({ keys: ['a'], origin: 'p', at: 1 })
    expect(seen.messages[1]!.tagVersions).toEqual(second.tagVersions)
    expect(seen.gaps).toEqual([])
    // (A heartbeat that outlived its budget on a loaded machine reconnects; it must not lose anything.)
    expect(seen.states[0]).toBe('connected')
  })

  it('writes the pinned v1 wire format', async () => {
    const ns = freshNamespace()
    const b = bus(inject('redisUrl'), ns)
    await b.publish({ tags: ['x'], urls: ['/a'], soft: true, origin: 'o', at: 5 })
    const raw = new Redis(inject('redisUrl'))
    cleanups.push(() => raw.quit())
    const entries = await raw.xrange(`tc1:${ns}:c:{${ns}}:bus`, '-', '+')
    expect(entries).toHaveLength(1)
    const [, fields] = entries[0]!
    expect(fields[0]).toBe('v')
    expect(fields[1]).toBe('1')
    expect(fields[2]).toBe('m')
    expect(JSON.parse(fields[3]!)).toEqual({ tags: ['x'], urls: ['/a'], soft: true, origin: 'o', at: 5 })
    expect(fields[4]).toBe('tv')
    expect(Number(fields[5])).toBe(Number(await raw.get(`tc1:${ns}:c:{${ns}}:t:x`)))
    expect(await raw.get(`tc1:${ns}:c:{${ns}}:epoch`)).toMatch(/^[0-9a-f]{16,}$/)
  })

  it('a killed follower connection reconnects and catches up from its cursor: no gap, nothing lost', async () => {
    const ns = freshNamespace()
    const { url, seen, admin } = await privateFollower(ns)
    const publisher = bus(url, ns)
    const blocked = await followerIds(admin)
    expect(blocked.length).toBeGreaterThan(0)
    for (const id of blocked) await admin.call('CLIENT', 'KILL', 'ID', id)
    for (let i = 0; i < 5; i++) await publisher.publish({ keys: [`k${i}`], origin: 'p', at: i })
    await until(() => seen.messages.length === 5, 'the messages published while the follower was down')
    expect(seen.messages.map((m) => m.keys![0])).toEqual(['k0', 'k1', 'k2', 'k3', 'k4'])
    expect(seen.gaps).toEqual([])
    expect(seen.states).toContain('disconnected')
    expect(seen.states.at(-1)).toBe('connected')
  })

  it('reports a gap when Redis restarts (the stream and its epoch are gone)', async () => {
    const server = await startRedisServer()
    let current = server
    cleanups.push(() => current.stop())
    const ns = freshNamespace()
    const follower = bus(server.url, ns)
    const seen = recorder()
    follower.subscribe(seen)
    await follower.ready()
    await server.stop()
    current = await startRedisServer({ port: server.port })
    await until(() => seen.gaps.length > 0, 'a gap report')
    expect(seen.gaps[0]).toMatch(/epoch/)
    // And it keeps following the new stream.
    const publisher = bus(current.url, ns)
    await until(() => follower.connected, 'the follower to reconnect')
    await publisher.publish({ keys: ['after'], origin: 'p', at: 1 })
    await until(() => seen.messages.some((m) => m.keys?.[0] === 'after'), 'a message after the restart')
  })

  it('reports a gap when the stream was trimmed past the cursor', async () => {
    const ns = freshNamespace()
    const { seen, admin } = await privateFollower(ns)
    const stream = `tc1:${ns}:c:{${ns}}:bus`
    // Stop the follower reading (kill its connection) and, before it is back, append and trim.
    const ids = await followerIds(admin)
    // Kill, append 20 and trim to 2 in one MULTI: the follower cannot read in between.
    const tx = admin.multi()
    for (const id of ids) tx.call('CLIENT', 'KILL', 'ID', id)
    for (let i = 0; i < 20; i++) tx.xadd(stream, '*', 'v', '1', 'm', JSON.stringify({ keys: [`k${i}`], origin: 'p', at: 0 }), 'tv', '')
    tx.xtrim(stream, 'MAXLEN', 2)
    await tx.exec()
    await until(() => seen.gaps.length > 0, 'a gap report')
    expect(seen.gaps[0]).toMatch(/trimmed/)
  })

  it('treats an entry it cannot read as a gap, never as noise', async () => {
    const ns = freshNamespace()
    const url = inject('redisUrl')
    const follower = bus(url, ns)
    const seen = recorder()
    follower.subscribe(seen)
    await follower.ready()
    const admin = new Redis(url)
    cleanups.push(() => admin.quit())
    await admin.xadd(`tc1:${ns}:c:{${ns}}:bus`, '*', 'v', '99', 'm', '{"from":"the future"}')
    await until(() => seen.gaps.length > 0, 'a gap report')
    expect(seen.gaps[0]).toMatch(/unknown format/)
  })
})
