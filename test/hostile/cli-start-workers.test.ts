/**
 * `tiercache start` (what `npm start` runs) with no service configured, as processes: it starts a
 * redis-server of its own (or, with none on PATH, runs L1-only and says so in one line), the app
 * and the edge in two workers each, serves a product through the edge, shows a PATCH made through
 * the edge on the next read, and on SIGTERM leaves no process of its group behind, its
 * redis-server included.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { findOnPath, reachable } from '../../src/stack/redis-server.js'
import { until } from '../helpers/until.js'
import { hasStack } from './cli-process.js'
import { alive, groupPids, killGroups, tiercacheGroup } from './process-group.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  killGroups()
  while (cleanups.length > 0) await cleanups.pop()!()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-start-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A process's state letter in /proc (R, S, T for stopped, Z...), or undefined when it is gone. */
function processState(pid: number): string | undefined {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

const NO_SERVICES = { REDIS_URL: undefined, DATABASE_URL: undefined, TIERCACHE_PURGE_TOKEN: undefined, PORT: undefined }

function request(url: string, method = 'GET', body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Reads a product through the edge, on fresh connections, until both edge workers answered. */
async function readEverywhere(edge: string, id: number): Promise<{ version: number; price_cents: number; cache: unknown }[]> {
  const seen: { version: number; price_cents: number; cache: unknown }[] = []
  for (let i = 0; i < 6; i++) {
    const r = await request(`${edge}/api/products/${id}`)
    expect(r.status).toBe(200)
    seen.push({ ...(JSON.parse(r.body) as { version: number; price_cents: number }), cache: r.headers['x-cache'] })
  }
  return seen
}

async function startStack(env: Record<string, string | undefined>, flags: string[] = []): Promise<{ cli: ReturnType<typeof tiercacheGroup>; edge: string; app: string }> {
  const cli = tiercacheGroup(['start', '--port', '0', '--app-port', '0', '--products', '20', ...flags], { ...NO_SERVICES, TIERCACHE_STATE_DIR: join(await tempDir(), 'state'), ...env })
  const [, edge] = await cli.waitFor(/edge \(use this\)\s+(http:\/\/\S+?)\/api\/products\/1/)
  const [, app] = await cli.waitFor(/app \(origin\)\s+(http:\/\/\S+?)\/api\/products\/1/)
  await cli.waitFor(/Ctrl-C stops it/)
  return { cli, edge: edge!, app: app! }
}

/** Once the stack has exited (all its output read), whether the edge logged one line per request. */
function loggedRequests(cli: ReturnType<typeof tiercacheGroup>): boolean {
  return /edge access/.test(`${cli.out()}${cli.err()}`)
}

async function patchThroughEdgeAndStop(cli: ReturnType<typeof tiercacheGroup>, edge: string): Promise<void> {
  expect((await readEverywhere(edge, 1)).every((p) => p.version === 1)).toBe(true)
  const write = await request(`${edge}/api/products/1`, 'PATCH', '{"price_cents":31337}')
  expect(write.status, write.body).toBe(200)
  expect(JSON.parse(write.body)).toMatchObject({ version: 2, price_cents: 31337 })
  // The next reads, whichever edge worker and app worker answer them, show the write.
  const after = await readEverywhere(edge, 1)
  expect(after.map((p) => [p.version, p.cache]), cli.err().slice(-3000)).toEqual(after.map((p) => [2, p.cache]))
  cli.child.kill('SIGTERM')
  expect(await cli.exited).toEqual({ code: 0, signal: null })
  expect(hasStack(cli.err()), cli.err()).toBe(false)
  expect(groupPids(cli.pid)).toEqual([])
}

// Each test starts embedded PostgreSQL and four worker processes: the timeout only stops a hang.
describe('tiercache start with workers', { timeout: 300_000 }, () => {
  it('no REDIS_URL, no DATABASE_URL: starts a redis-server of its own, serves through the edge, a PATCH through the edge is read back, SIGTERM stops every process', async () => {
    if (findOnPath('redis-server') === undefined) throw new Error('redis-server is not on PATH: apt-get install -y redis-server')
    const { cli, edge } = await startStack({})
    const [, redisPid] = await cli.waitFor(/a redis-server started for this stack, pid (\d+)/)
    expect(alive(Number(redisPid))).toBe(true)
    expect(groupPids(cli.pid)).toContain(Number(redisPid))
    expect(cli.out()).toMatch(/app workers catalog-1, catalog-2, edge workers edge-1, edge-2/)
    expect(cli.out()).toMatch(/seeded 20 of 20 products/)
    await patchThroughEdgeAndStop(cli, edge)
    expect(alive(Number(redisPid))).toBe(false)
    // No per-request log by default: a load run would flood the terminal.
    expect(loggedRequests(cli)).toBe(false)
  })

  it('SIGTERM while the dashboard holds its redis-server hung (Redis stopped from the page): the server is resumed and stopped, no process of the group remains', async () => {
    if (findOnPath('redis-server') === undefined) throw new Error('redis-server is not on PATH: apt-get install -y redis-server')
    const { cli } = await startStack({})
    const [, redisUrl, redisPid] = await cli.waitFor(/Redis at (redis:\/\/\S+) \(L2 and the Streams bus; a redis-server started for this stack, pid (\d+)/)
    const [, dashboard] = await cli.waitFor(/dashboard\s+(http:\/\/\S+)/)
    const fault = async (mode: string): Promise<unknown> => {
      const r = await request(`${dashboard!}/api/fault`, 'POST', JSON.stringify({ target: 'redis', mode }))
      expect(r.status, r.body).toBe(200)
      return JSON.parse(r.body)
    }
    // Slow first (its stalls come from a connection of the dashboard's), then hung: the real process stopped.
    expect(await fault('slow')).toMatchObject({ ok: true, faults: { redis: 'slow' } })
    expect(await fault('stopped')).toMatchObject({ ok: true, faults: { redis: 'stopped' } })
    // The signal is delivered asynchronously: the kernel shows the process stopped a moment later.
    await until(() => processState(Number(redisPid)) === 'T', 'the redis-server stopped (state T)')
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toEqual({ code: 0, signal: null })
    expect(hasStack(cli.err()), cli.err()).toBe(false)
    expect(groupPids(cli.pid)).toEqual([])
    expect(alive(Number(redisPid))).toBe(false)
    expect(await reachable(redisUrl!, 500)).toBe(false)
  })

  it('no redis-server on PATH: L1-only, said in one line, and still coherent across the workers (with --access-log: one line per request)', async () => {
    // A PATH with node only (the workers are forked from its absolute path anyway).
    const bin = await tempDir()
    await symlink(process.execPath, join(bin, 'node'))
    expect(findOnPath('redis-server', bin)).toBeUndefined()
    const { cli, edge } = await startStack({ PATH: bin }, ['--access-log'])
    const said = `${cli.out()}${cli.err()}`.split('\n').filter((line) => /L1-only/.test(line))
    expect(said, cli.out()).toHaveLength(1)
    expect(said[0]).toContain('redis-server')
    expect(cli.out()).toMatch(/cache\s+L1 only/)
    expect(dirname(process.execPath)).not.toBe(bin)
    await patchThroughEdgeAndStop(cli, edge)
    expect(loggedRequests(cli)).toBe(true)
  })
})
