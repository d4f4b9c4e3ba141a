import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { get, startOrigin } from '../integration/edge-helpers.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

describe('tiercache edge: admin listener and access log flags', () => {
  it('serves metrics on --admin-port only, and writes one JSON line per request with --access-log', async () => {
    const origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60')
      res.end('hello')
    })
    closers.push(() => origin.close())
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'edge', '--origin', origin.url, '--port', '0', '--admin-port', '0', '--access-log'], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TIERCACHE_PURGE_TOKEN: 'cli-purge-token-0123456789' },
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    closers.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    await vi.waitFor(() => {
      // A child that exited will never print: fail with what it said instead of waiting.
      if (child.exitCode !== null) throw new Error(`tiercache edge exited with ${child.exitCode}: ${err}`)
      expect(out).toMatch(/admin \(metrics, stats, health\) on http:\/\/127\.0\.0\.1:\d+/)
    }, { timeout: 30_000 })
    const url = /listening on (http:\/\/\S+),/.exec(out)![1]!
    const admin = /admin \(metrics, stats, health\) on (http:\/\/\S+)\/\.tiercache\//.exec(out)![1]!
    expect((await get(`${url}/page?session=abc`)).text).toBe('hello')
    expect((await get(`${url}/.tiercache/metrics`)).status).toBe(401)
    expect((await get(`${admin}/.tiercache/metrics`)).text).toContain('tiercache_edge_requests_total{result="miss"} 1')
    await vi.waitFor(() => expect(out).toContain('"path":"/page?session"'))
    const line = out.split('\n').find((l) => l.includes('"path":"/page?session"'))!
    expect(JSON.parse(line)).toMatchObject({ method: 'GET', status: 200, cache: 'MISS', bytes: 5 })
    expect(out).not.toContain('abc')
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
