import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../src/core/manual-clock.js'
import { freshNamespace } from '../helpers/namespace.js'
import { startRedisServer } from '../services/services.js'
import { get, startEdge, startOrigin } from '../integration/edge-helpers.js'

// Edge storage on a Redis that was up and then goes away: requests must get the origin's answer,
// and once the storage breaker is open, no command may be sent to Redis (even once it is back)
// until the breaker lets a probe through.

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

/**
 * A TCP proxy in front of a Redis port that records the name of every command a client sends
 * (RESP arrays: `*N\r\n$len\r\nNAME\r\n...`), so a test can see what reached Redis.
 */
async function commandProxy(targetPort: number) {
  const commands: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    let pending = Buffer.alloc(0)
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      for (;;) {
        const parsed = parseCommand(pending)
        if (parsed === undefined) break
        commands.push(parsed.name)
        pending = pending.subarray(parsed.length)
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
    const end = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    commands,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}

function parseCommand(buf: Buffer): { name: string; length: number } | undefined {
  const line = (at: number): [string, number] | undefined => {
    const end = buf.indexOf('\r\n', at)
    return end === -1 ? undefined : [buf.toString('latin1', at, end), end + 2]
  }
  const head = line(0)
  if (head === undefined) return undefined
  const n = Number(head[0].slice(1))
  let at = head[1]
  let name = ''
  for (let i = 0; i < n; i++) {
    const size = line(at)
    if (size === undefined) return undefined
    const len = Number(size[0].slice(1))
    if (size[1] + len + 2 > buf.length) return undefined
    if (i === 0) name = buf.toString('latin1', size[1], size[1] + len).toLowerCase()
    at = size[1] + len + 2
  }
  return { name, length: at }
}

/** Commands ioredis sends on its own when a connection opens. */
const CONNECTION_SETUP = new Set(['info', 'client', 'select', 'ping', 'hello', 'auth', 'readonly'])

describe('edge on Redis storage that goes away', () => {
  it('answers from the origin, and sends nothing to Redis while the storage breaker is open', async () => {
    const redis = await startRedisServer()
    closers.push(() => redis.stop())
    const proxy = await commandProxy(redis.port)
    closers.push(() => proxy.close())
    const client = new Redis(proxy.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 })
    client.on('error', () => {})
    closers.push(async () => { client.disconnect() })
    const clock = new ManualClock(Date.now())
    const origin = await startOrigin((req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=600')
      res.end(`${req.url} #${n}`)
    }, () => clock.now())
    closers.push(() => origin.close())
    const { url, edge } = await startEdge({
      origin: origin.url, clock,
      storage: { type: 'redis', client, namespace: freshNamespace('edge-down'), timeout: '5s', breakerThreshold: 3, breakerCooldown: '30s' },
    })
    closers.push(() => edge.close())
    await vi.waitFor(() => expect(client.status).toBe('ready'))
    expect((await get(`${url}/a`)).text).toBe('/a #1')
    expect((await get(`${url}/a`)).headers.get('x-cache')).toBe('HIT')
    expect(proxy.commands).toContain('set')

    // Redis goes away.
    await redis.stop()
    await vi.waitFor(() => expect(client.status).not.toBe('ready'))
    for (let i = 0; i < 4; i++) {
      const answer = await get(`${url}/b${i}`)
      expect(answer.status).toBe(200)
      expect(answer.text).toMatch(/^\/b\d #\d+$/)
    }
    expect(edge.stats().storage.breaker).toBe('open')

    // Redis comes back on the same port; the breaker is still open (its cool-down is on the
    // edge's clock, which has not moved), so requests must not reach it.
    const back = await startRedisServer({ port: redis.port })
    closers.push(() => back.stop())
    await vi.waitFor(() => expect(client.status).toBe('ready'), { timeout: 10_000 })
    const before = proxy.commands.length
    const skippedBefore = edge.stats().storage.skipped
    for (let i = 0; i < 5; i++) expect((await get(`${url}/c${i}`)).status).toBe(200)
    expect(edge.stats().storage.skipped).toBeGreaterThanOrEqual(skippedBefore + 5)

    // The signal that everything sent so far has arrived: once the cool-down is over, the next
    // request's probe reaches the proxy. Commands on one connection arrive in order.
    await clock.advance(30_000)
    expect((await get(`${url}/probe`)).status).toBe(200)
    await vi.waitFor(() => expect(proxy.commands.slice(before).some((c) => !CONNECTION_SETUP.has(c))).toBe(true))
    const sent = proxy.commands.slice(before).filter((c) => !CONNECTION_SETUP.has(c))
    // Only the probe's own commands: the lookup of /probe (and its fill once the breaker closed).
    expect(sent[0]).toBe('get')
    expect(sent.filter((c) => c === 'get')).toHaveLength(1)
  })
})
