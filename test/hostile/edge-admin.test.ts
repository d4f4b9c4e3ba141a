import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createEdge } from '../../src/edge/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { get, startEdge, startOrigin } from '../integration/edge-helpers.js'

const TOKEN = 'purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

async function origin() {
  const o = await startOrigin((_req, res) => { res.end('app') })
  closers.push(() => o.close())
  return o
}

describe('edge admin endpoints', () => {
  it('does not serve metrics, stats or health to anyone on the public port', async () => {
    const { url, edge } = await startEdge({ origin: (await origin()).url, purgeToken: TOKEN })
    closers.push(() => edge.close())
    for (const name of ['metrics', 'stats', 'health']) {
      const anonymous = await get(`${url}/.tiercache/${name}`)
      expect(anonymous.status, name).toBe(401)
      expect(anonymous.text).not.toContain('tiercache_edge')
      expect(anonymous.text).not.toContain(edge.id)
      const withToken = await get(`${url}/.tiercache/${name}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(withToken.status, name).toBe(200)
    }
  })

  it('serves them on a separate admin listener, on loopback by default', async () => {
    const { url, edge } = await startEdge({ origin: (await origin()).url, admin: { port: 0 }, purgeToken: TOKEN })
    closers.push(() => edge.close())
    const admin = edge.adminUrl
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(admin).not.toBe(url)
    await get(`${url}/a`)
    const metrics = await get(`${admin}/.tiercache/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.text).toContain('tiercache_edge_requests_total')
    expect(JSON.parse((await get(`${admin}/.tiercache/health`)).text)).toMatchObject({ ok: true, id: edge.id })
    expect(JSON.parse((await get(`${admin}/.tiercache/stats`)).text)).toMatchObject({ id: edge.id })
    // Purges may be sent there too (the token is still required).
    const body = JSON.stringify({ urls: ['/a'] })
    expect((await get(`${admin}/.tiercache/purge`, { method: 'POST', body })).status).toBe(401)
    expect(JSON.parse((await get(`${admin}/.tiercache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body })).text)).toMatchObject({ ok: true, entries: 1 })
    // The admin listener is not a second way into the cache.
    expect((await get(`${admin}/a`)).status).toBe(404)
    expect((await get(`${url}/.tiercache/metrics`)).status).toBe(401)
  })

  it('listens on both ports or neither: an admin port in use leaves the public port closed', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise((resolve) => { taken.close(() => resolve()) }))
    const port = (taken.address() as { port: number }).port
    const edge = createEdge({ origin: (await origin()).url, admin: { port }, logger: silentLogger })
    closers.push(() => edge.close())
    await expect(edge.listen(0)).rejects.toMatchObject({ code: 'EADDRINUSE', port })
    expect(edge.server.listening).toBe(false)
  })
})
