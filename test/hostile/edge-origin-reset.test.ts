import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startEdge } from '../integration/edge-helpers.js'

// An origin closes an idle keep-alive connection at the moment the edge reuses it: a routine race
// (every origin has a keep-alive timeout). The origin below closes every connection at its second
// request, which makes the race happen each time. An idempotent request is sent again on a fresh
// connection; a POST is not, since the origin may have acted on it.

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

interface Seen { method: string; body: string; connection: number; dropped: boolean }

async function closingOrigin(): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const perSocket = new Map<Socket, number>()
  let connections = 0
  const ids = new Map<Socket, number>()
  const server = http.createServer((req, res) => {
    const socket = req.socket
    if (!ids.has(socket)) ids.set(socket, ++connections)
    const n = (perSocket.get(socket) ?? 0) + 1
    perSocket.set(socket, n)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const dropped = n === 2
      seen.push({ method: req.method ?? '', body: Buffer.concat(chunks).toString(), connection: ids.get(socket)!, dropped })
      if (dropped) {
        socket.destroy()
        return
      }
      res.setHeader('cache-control', 'no-store')
      res.end(`answered ${req.method ?? ''} on connection ${ids.get(socket)!}`)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

async function send(url: string, method: string, body?: string | Buffer): Promise<{ status: number; text: string }> {
  const response = await fetch(url, body === undefined ? { method } : { method, body })
  return { status: response.status, text: await response.text() }
}

async function setup() {
  const origin = await closingOrigin()
  const { edge, url } = await startEdge({ origin: origin.url })
  closers.push(() => edge.close())
  // The first request opens the connection the second one reuses.
  expect((await send(`${url}/first`, 'GET')).status).toBe(200)
  return { ...origin, edge: url }
}

describe('edge: the origin closes a keep-alive connection as it is reused', () => {
  it('a GET is sent again on a fresh connection', async () => {
    const { edge, seen } = await setup()
    const answer = await send(`${edge}/again`, 'GET')
    expect(answer).toEqual({ status: 200, text: 'answered GET on connection 2' })
    expect(seen.map((s) => [s.method, s.connection, s.dropped])).toEqual([['GET', 1, false], ['GET', 1, true], ['GET', 2, false]])
  })

  it('a PUT with a small body is sent again, with the same body', async () => {
    const { edge, seen } = await setup()
    const answer = await send(`${edge}/config/1`, 'PUT', '{"setting":"value"}')
    expect(answer).toEqual({ status: 200, text: 'answered PUT on connection 2' })
    expect(seen.slice(1)).toEqual([
      { method: 'PUT', body: '{"setting":"value"}', connection: 1, dropped: true },
      { method: 'PUT', body: '{"setting":"value"}', connection: 2, dropped: false },
    ])
  })

  it('a DELETE with a body is sent again', async () => {
    const { edge, seen } = await setup()
    expect((await send(`${edge}/items/1`, 'DELETE', 'reason=test')).status).toBe(200)
    expect(seen.slice(1).map((s) => [s.method, s.body, s.dropped])).toEqual([['DELETE', 'reason=test', true], ['DELETE', 'reason=test', false]])
  })

  it('a POST is not sent twice: the client gets 502 and the origin saw it once', async () => {
    const { edge, seen } = await setup()
    const answer = await send(`${edge}/orders`, 'POST', 'one order')
    expect(answer.status).toBe(502)
    expect(seen.slice(1)).toEqual([{ method: 'POST', body: 'one order', connection: 1, dropped: true }])
  })

  it('a PUT body larger than what is read whole is streamed, and not sent twice', async () => {
    const { edge, seen } = await setup()
    const big = Buffer.alloc(200 * 1024, 'x')
    const answer = await send(`${edge}/upload`, 'PUT', big)
    expect(answer.status).toBe(502)
    expect(seen.slice(1).map((s) => [s.method, s.body.length, s.dropped])).toEqual([['PUT', big.length, true]])
  })
})
