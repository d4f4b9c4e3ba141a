import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { freshNamespace } from '../helpers/namespace.js'
import { get, startOrigin } from './edge-helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const TOKEN = 'cli-purge-token-0123456789'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

function tiercache(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function finished(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })))
}

describe('tiercache edge / tiercache purge', () => {
  it('starts an edge from the command line and purges a tag through it', async () => {
    const origin = await startOrigin((_req, res, _b, n) => {
      res.setHeader('cache-control', 'max-age=600')
      res.setHeader('surrogate-key', 'item:42')
      res.end(`item 42 v${n}`)
    })
    closers.push(() => origin.close())
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-edge-'))
    closers.push(() => rm(dir, { recursive: true, force: true }))
    const config = join(dir, 'edge.json')
    await writeFile(config, JSON.stringify({ behaviors: [{ pathPattern: '/items/*', defaultTtl: '1h' }], port: 0 }))
    const namespace = freshNamespace('cli')
    // One process: this counts the origin's fills, and each worker of --workers N fills its own storage.
    const edge = tiercache(['edge', '--origin', origin.url, '--config', config, '--id', 'cli-edge', '--bus', inject('redisUrl'), '--bus-namespace', namespace, '--workers', '1'],
      { TIERCACHE_PURGE_TOKEN: TOKEN })
    const exited = finished(edge)
    closers.push(async () => {
      if (edge.exitCode === null) edge.kill('SIGKILL')
      await exited
    })
    const url = await new Promise<string>((resolve, reject) => {
      edge.stdout?.on('data', (d: Buffer) => {
        const m = /listening on (http:\/\/\S+),/.exec(d.toString())
        if (m !== null) resolve(m[1]!)
      })
      edge.once('exit', (code) => reject(new Error(`edge exited with ${String(code)}`)))
    })
    expect((await get(`${url}/items/42`)).text).toBe('item 42 v1')
    expect((await get(`${url}/items/42`)).text).toBe('item 42 v1')

    const refused = await finished(tiercache(['purge', '--tag', 'item:42', '--edge', url], { TIERCACHE_PURGE_TOKEN: 'wrong-token-0123456789' }))
    expect(refused.code).toBe(2)
    expect(refused.err).toContain('E_PURGE_UNAUTHORIZED')
    const purged = await finished(tiercache(['purge', '--tag', 'item:42', '--edge', url], { TIERCACHE_PURGE_TOKEN: TOKEN }))
    expect(purged).toMatchObject({ code: 0 })
    expect(purged.out).toContain('purged 1 entry on cli-edge, published on the bus')
    expect((await get(`${url}/items/42`)).text).toBe('item 42 v2')
    expect(origin.count()).toBe(2)

    // The edge follows the bus: an app cache's tag invalidation purges it.
    const app = new RedisStreamBus({ redis: inject('redisUrl'), namespace })
    closers.push(() => app.close())
    app.subscribe({ onMessage: () => {}, onGap: () => {} })
    await app.ready()
    await app.publish({ tags: ['item:42'], origin: 'app-node', at: Date.now() })
    await vi.waitFor(async () => expect((await get(`${url}/items/42`)).text).toBe('item 42 v3'), { timeout: 10_000 })

    edge.kill('SIGTERM')
    expect((await exited).code).toBe(0)
  })

  it('refuses bad input with a clear message and exit code 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-edge-'))
    closers.push(() => rm(dir, { recursive: true, force: true }))
    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{"origin": "http://127.0.0.1:1", "behaviours": []}')
    const unknown = await finished(tiercache(['edge', '--config', bad]))
    expect(unknown.code).toBe(2)
    expect(unknown.err).toContain('E_EDGE_CONFIG')
    expect(unknown.err).toContain('behaviours')
    const invalid = await finished(tiercache(['edge', '--origin', 'ftp://x']))
    expect(invalid.code).toBe(2)
    expect(invalid.err).toContain('expected origin to be')
    const noOrigin = await finished(tiercache(['edge']))
    expect(noOrigin.code).toBe(2)
    const nothing = await finished(tiercache(['purge'], { TIERCACHE_PURGE_TOKEN: TOKEN }))
    expect(nothing.code).toBe(2)
    const unreachable = await finished(tiercache(['purge', '--tag', 'x', '--edge', 'http://127.0.0.1:1'], { TIERCACHE_PURGE_TOKEN: TOKEN }))
    expect(unreachable.code).toBe(1)
    expect(unreachable.err).toContain('E_PURGE_FAILED')
  })
})
